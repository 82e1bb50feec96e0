import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsDate,
  IsInt,
  IsOptional,
  Max,
  Min,
  ValidateBy,
  ValidateIf,
} from 'class-validator';
import { parseIsoTimestamp } from './iso-timestamp';

// Validators any DTO may use, with FastAPI's wording in their messages.

export const trim = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim() : value;

/** A required key: absent is "missing"; present but `null` fails the type check that follows. */
export const Present = () =>
  ValidateBy({
    name: 'isDefined',
    validator: { validate: (value) => value !== undefined, defaultMessage: () => 'Field required' },
  });

/** PostgreSQL text cannot hold U+0000: refuse it up front instead of failing in the database. */
export const NoNulCharacter = (each = false) =>
  ValidateBy(
    {
      name: 'noNulCharacter',
      validator: {
        validate: (value) => typeof value !== 'string' || !value.includes('\u0000'),
        defaultMessage: () => 'String should not contain NUL (\\u0000) characters',
      },
    },
    { each },
  );

/** Only a present key is validated; an absent one means "leave it as it is". */
export const IfPresent = () => ValidateIf((_object, value) => value !== undefined);

/** A JSON boolean; present or absent, never `null`. */
export function OptionalBoolean(description: string) {
  return applyDecorators(
    ApiPropertyOptional({ type: Boolean, description }),
    IfPresent(),
    IsBoolean({ message: 'Input should be a valid boolean' }),
  );
}

/** `"17"` → 17: digits only, so "1e3" or "1.0" stay strings (for the integer check to refuse). */
export const integerFromDigits = (value: unknown): unknown =>
  typeof value === 'string' && /^[+-]?\d{1,16}$/.test(value.trim()) ? Number(value) : value;

/** An integer from a path or query string: digits only, so "1e3" or "1.0" are refused. */
export function IntegerFromString({ min, max }: { min?: number; max?: number } = {}) {
  const decorators = [
    Transform(({ value }: { value: unknown }) => integerFromDigits(value)),
    IsInt({ message: 'Input should be a valid integer, unable to parse string as an integer' }),
  ];
  if (min !== undefined) {
    decorators.push(Min(min, { message: `Input should be greater than or equal to ${min}` }));
  }
  if (max !== undefined) {
    decorators.push(Max(max, { message: `Input should be less than or equal to ${max}` }));
  }
  return applyDecorators(...decorators);
}

/** A timestamp (ISO 8601; a bare date is that day 00:00 UTC), `null` clearing it. */
export function OptionalTimestamp(description: string) {
  return applyDecorators(
    ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description }),
    Transform(({ value }: { value: unknown }) =>
      value === null || value === undefined ? value : (parseIsoTimestamp(value) ?? value),
    ),
    IsOptional(),
    IsDate({ message: 'Input should be a valid ISO 8601 date or date-time' }),
  );
}
