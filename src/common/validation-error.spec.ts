import { HttpStatus } from '@nestjs/common';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsInt,
  IsString,
  MaxLength,
  ValidateNested,
  ValidationError,
  validateSync,
} from 'class-validator';
import { RequestValidationException, toValidationIssues } from './validation-error';

function validationError(
  property: string,
  constraints?: Record<string, string>,
  children: ValidationError[] = [],
): ValidationError {
  return Object.assign(new ValidationError(), { property, constraints, children });
}

describe(toValidationIssues.name, () => {
  it('should put the location before the field name', () => {
    const issues = toValidationIssues(
      [validationError('title', { isDefined: 'Field required' })],
      'body',
    );

    expect(issues).toEqual([{ loc: ['body', 'title'], msg: 'Field required', type: 'missing' }]);
  });

  it.each([
    ['isDefined', 'missing'],
    ['isString', 'string_type'],
    ['isBoolean', 'bool_type'],
    ['isInt', 'int_parsing'],
    ['min', 'greater_than_equal'],
    ['max', 'less_than_equal'],
    ['minLength', 'string_too_short'],
    ['maxLength', 'string_too_long'],
    ['isIn', 'enum'],
    ['whitelistValidation', 'extra_forbidden'],
  ])('should map the %s constraint to the pydantic type %s', (constraint, type) => {
    const [issue] = toValidationIssues(
      [validationError('field', { [constraint]: 'msg' })],
      'query',
    );

    expect(issue.type).toBe(type);
  });

  it('should fall back to value_error for a constraint it does not know', () => {
    const [issue] = toValidationIssues(
      [validationError('email', { isEmail: 'not an email' })],
      'body',
    );

    expect(issue).toEqual({ loc: ['body', 'email'], msg: 'not an email', type: 'value_error' });
  });

  it('should report one issue per field, from its first constraint', () => {
    const issues = toValidationIssues(
      [validationError('limit', { isInt: 'not an integer', min: 'too small' })],
      'query',
    );

    expect(issues).toEqual([
      { loc: ['query', 'limit'], msg: 'not an integer', type: 'int_parsing' },
    ]);
  });

  it('should build loc paths through nested children, with array indexes as numbers', () => {
    const errors = [
      validationError('items', undefined, [
        validationError('2', undefined, [
          validationError('name', { isString: 'Input should be a valid string' }),
        ]),
      ]),
    ];

    expect(toValidationIssues(errors, 'body')).toEqual([
      {
        loc: ['body', 'items', 2, 'name'],
        msg: 'Input should be a valid string',
        type: 'string_type',
      },
    ]);
  });

  it('should report both a parent constraint and its children', () => {
    const errors = [
      validationError('tags', { arrayMaxSize: 'too many' }, [
        validationError('0', { maxLength: 'too long' }),
      ]),
      validationError('title', { isDefined: 'Field required' }),
    ];

    expect(toValidationIssues(errors, 'body')).toEqual([
      { loc: ['body', 'tags'], msg: 'too many', type: 'too_long' },
      { loc: ['body', 'tags', 0], msg: 'too long', type: 'string_too_long' },
      { loc: ['body', 'title'], msg: 'Field required', type: 'missing' },
    ]);
  });

  it('should flatten what class-validator reports for a nested object', () => {
    class Owner {
      @IsString()
      name: string;
    }
    class Payload {
      @IsInt()
      count: number;

      @ValidateNested({ each: true })
      @Type(() => Owner)
      owners: Owner[];

      @MaxLength(3)
      code: string;
    }
    const payload = plainToInstance(Payload, {
      count: 1,
      owners: [{ name: 'ok' }, { name: 7 }],
      code: 'ab',
    });

    expect(toValidationIssues(validateSync(payload), 'body')).toEqual([
      { loc: ['body', 'owners', 1, 'name'], msg: expect.any(String), type: 'string_type' },
    ]);
  });

  it('should produce no issues for no errors', () => {
    expect(toValidationIssues([], 'body')).toEqual([]);
  });
});

describe(RequestValidationException.name, () => {
  it('should answer 422 with the issues as the FastAPI detail list', () => {
    const exception = RequestValidationException.single(
      ['body'],
      'Nothing to update',
      'value_error',
    );

    expect(exception.getStatus()).toBe(HttpStatus.UNPROCESSABLE_ENTITY);
    expect(exception.getResponse()).toEqual({
      detail: [{ loc: ['body'], msg: 'Nothing to update', type: 'value_error' }],
    });
  });
});
