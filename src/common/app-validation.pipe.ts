import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { ParamLocation, RequestValidationException, toValidationIssues } from './validation-error';

class ValidationFailed {
  constructor(readonly errors: ValidationError[]) {}
}

/** Bounds of the validated-DTO memo, per DTO class. */
const MEMO_SIZE = 10_000;
const MEMO_KEY_LIMIT = 512;

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
  /**
   * Validated query and path DTOs, by class and raw value. They are strings a client repeats
   * (the same list filters, the same task ids), and the same strings always validate to the same
   * DTO: each is built and checked once, then handed out frozen. Failures are not kept. Bounded:
   * when full it starts over, and long values are never kept.
   */
  private readonly validated = new Map<unknown, Map<string, Promise<unknown>>>();

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
    if (location !== 'body' && metadata.metatype && this.toValidate(metadata)) {
      return this.remembered(value, metadata);
    }
    return this.validateAndReport(value, metadata);
  }

  private remembered(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const key = JSON.stringify(value) ?? '';
    if (key.length > MEMO_KEY_LIMIT) return this.validateAndReport(value, metadata);
    let byValue = this.validated.get(metadata.metatype);
    if (!byValue)
      this.validated.set(metadata.metatype, (byValue = new Map<string, Promise<unknown>>()));
    let dto = byValue.get(key);
    if (!dto) {
      if (byValue.size >= MEMO_SIZE) byValue.clear();
      dto = this.validateAndReport(value, metadata).then(deepFreeze);
      byValue.set(key, dto);
      dto.catch(() => byValue.delete(key));
    }
    return dto;
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

/** Shared DTOs must not change under their next user: frozen with every array and object in them. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
