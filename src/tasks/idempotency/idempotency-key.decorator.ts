import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { Request } from 'express';
import { RequestValidationException } from '../../common/validation-error';

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` header: absent, or 1–255 visible ASCII characters (else 422). */
export const IdempotencyKey = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string | undefined => {
    const value = context.switchToHttp().getRequest<Request>().headers['idempotency-key'];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !KEY.test(value)) {
      throw RequestValidationException.single(
        ['header', 'Idempotency-Key'],
        'Idempotency-Key should be 1-255 visible ASCII characters',
        'value_error',
      );
    }
    return value;
  },
);
