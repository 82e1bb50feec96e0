import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
} from 'class-validator';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

/** A required key: absent is "missing"; present but `null` fails the type check that follows. */
const Present = () =>
  ValidateBy({
    name: 'isDefined',
    validator: { validate: (value) => value !== undefined, defaultMessage: () => 'Field required' },
  });

/** Only a present key is validated; an absent one means "leave it as it is". */
const IfPresent = () => ValidateIf((_object, value) => value !== undefined);

/** Task title: trimmed, then 1–200 characters. Required on create, optional on update. */
export function TaskTitle({ required }: { required: boolean }) {
  return applyDecorators(
    required
      ? ApiProperty({ example: 'Buy milk', minLength: 1, maxLength: 200 })
      : ApiPropertyOptional({ example: 'Buy oat milk', minLength: 1, maxLength: 200 }),
    Transform(trim),
    required ? Present() : IfPresent(),
    IsString({ message: 'Input should be a valid string' }),
    MinLength(1, { message: 'String should have at least 1 character (after trimming)' }),
    MaxLength(200, { message: 'String should have at most 200 characters' }),
  );
}

/** Task description: optional, `null` clears it, at most 1000 characters. */
export function TaskDescription() {
  return applyDecorators(
    ApiPropertyOptional({ type: String, nullable: true, maxLength: 1000, example: '2 litres' }),
    IsOptional(),
    IsString({ message: 'Input should be a valid string' }),
    MaxLength(1000, { message: 'String should have at most 1000 characters' }),
  );
}

/** A JSON boolean; present or absent, never `null`. */
export function OptionalBoolean(description: string) {
  return applyDecorators(
    ApiPropertyOptional({ type: Boolean, description }),
    IfPresent(),
    IsBoolean({ message: 'Input should be a valid boolean' }),
  );
}

/** An integer from a path or query string: digits only, so "1e3" or "1.0" are refused. */
export function IntegerFromString({ min, max }: { min?: number; max?: number } = {}) {
  const decorators = [
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && /^[+-]?\d{1,16}$/.test(value.trim()) ? Number(value) : value,
    ),
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
