import { UnprocessableEntityException } from '@nestjs/common';
import { ValidationError } from 'class-validator';

/** One item of FastAPI's 422 `detail` list. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export type ParamLocation = 'body' | 'query' | 'path' | 'header';

/** A client error in the request's shape: answered 422 with FastAPI's `detail` list. */
export class RequestValidationException extends UnprocessableEntityException {
  constructor(readonly issues: ValidationIssue[]) {
    super({ detail: issues }, { description: 'Validation error' });
  }

  static single(loc: (string | number)[], msg: string, type: string) {
    return new RequestValidationException([{ loc, msg, type }]);
  }
}

/** Pydantic's error types for the class-validator constraints our DTOs use. */
const PYDANTIC_TYPES: Record<string, string> = {
  isDefined: 'missing',
  isNotEmpty: 'missing',
  isString: 'string_type',
  isBoolean: 'bool_type',
  isInt: 'int_parsing',
  isNumber: 'float_parsing',
  min: 'greater_than_equal',
  max: 'less_than_equal',
  minLength: 'string_too_short',
  maxLength: 'string_too_long',
  isIn: 'enum',
  isEnum: 'enum',
  isNotBlank: 'string_too_short',
  isArray: 'list_type',
  arrayMaxSize: 'too_long',
  isISO8601: 'datetime_parsing',
  whitelistValidation: 'extra_forbidden',
  noNulCharacter: 'string_pattern_mismatch',
};

/** Flattens class-validator's tree into FastAPI's list, one issue per offending field. */
export function toValidationIssues(
  errors: ValidationError[],
  location: ParamLocation,
  parentPath: (string | number)[] = [],
): ValidationIssue[] {
  return errors.flatMap((error) => {
    const path = [
      ...parentPath,
      /^\d+$/.test(error.property) ? Number(error.property) : error.property,
    ];
    const own = Object.entries(error.constraints ?? {})
      .slice(0, 1)
      .map(([constraint, msg]) => ({
        loc: [location, ...path],
        msg,
        type: PYDANTIC_TYPES[constraint] ?? 'value_error',
      }));
    return [...own, ...toValidationIssues(error.children ?? [], location, path)];
  });
}
