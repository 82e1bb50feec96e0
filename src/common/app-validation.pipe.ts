import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { ParamLocation, RequestValidationException, toValidationIssues } from './validation-error';

class ValidationFailed {
  constructor(readonly errors: ValidationError[]) {}
}

const LOCATIONS: Partial<Record<ArgumentMetadata['type'], ParamLocation>> = {
  body: 'body',
  query: 'query',
  param: 'path',
};

/**
 * The one global pipe: validates and transforms DTOs, strips unknown fields (the contract: extras
 * are ignored, never applied, never rejected) and reports failures as FastAPI's 422 list.
 */
@Injectable()
export class AppValidationPipe extends ValidationPipe {
  /** A query DTO built from no parameters is always the same: validate it once per class. */
  private readonly emptyQueries = new Map<unknown, Promise<unknown>>();

  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: false,
      stopAtFirstError: true,
      forbidUnknownValues: false,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => new ValidationFailed(errors),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const location = LOCATIONS[metadata.type];
    // No body at all (`PATCH …/complete` sent bare) validates like an empty object.
    if (location === 'body' && value === undefined) value = {};
    if (
      location === 'body' &&
      metadata.metatype &&
      this.toValidate(metadata) &&
      (value === null || typeof value !== 'object' || Array.isArray(value))
    ) {
      throw RequestValidationException.single(
        ['body'],
        'Input should be a valid dictionary or object to extract fields from',
        'model_attributes_type',
      );
    }
    if (
      location === 'query' &&
      metadata.metatype &&
      value !== null &&
      typeof value === 'object' &&
      Object.keys(value).length === 0
    ) {
      let validated = this.emptyQueries.get(metadata.metatype);
      if (!validated) {
        validated = this.validateAndReport(value, metadata).then((dto) => Object.freeze(dto));
        this.emptyQueries.set(metadata.metatype, validated);
        validated.catch(() => this.emptyQueries.delete(metadata.metatype));
      }
      return validated;
    }
    return this.validateAndReport(value, metadata);
  }

  private async validateAndReport(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const location = LOCATIONS[metadata.type];
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (error instanceof ValidationFailed) {
        throw new RequestValidationException(toValidationIssues(error.errors, location ?? 'body'));
      }
      throw error;
    }
  }
}
