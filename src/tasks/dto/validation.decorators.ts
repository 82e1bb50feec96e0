import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { parseIsoTimestamp } from '../../common/iso-timestamp';
import { RECURRENCES } from '../recurrence';
import { PRIORITIES } from '../task.entity';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDate,
  IsIn,
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
    NoNulCharacter(),
  );
}

/** Task description: optional, `null` clears it, at most 1000 characters. */
export function TaskDescription() {
  return applyDecorators(
    ApiPropertyOptional({ type: String, nullable: true, maxLength: 1000, example: '2 litres' }),
    IsOptional(),
    IsString({ message: 'Input should be a valid string' }),
    MaxLength(1000, { message: 'String should have at most 1000 characters' }),
    NoNulCharacter(),
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

/** `low`, `medium` or `high`, in any case. */
export function PriorityField() {
  return applyDecorators(
    ApiPropertyOptional({ enum: PRIORITIES, default: 'medium', description: 'Case-insensitive' }),
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' ? value.trim().toLowerCase() : value,
    ),
    IfPresent(),
    IsIn(PRIORITIES, { message: "Input should be 'low', 'medium' or 'high'" }),
  );
}

/** Tags: each trimmed, 1–50 characters, duplicates (case-insensitive) dropped, at most 20. */
export function TagsField() {
  return applyDecorators(
    ApiPropertyOptional({ type: [String], maxItems: 20, example: ['work', 'urgent'] }),
    Transform(({ value }: { value: unknown }) =>
      Array.isArray(value) ? normalizeTags(value) : value,
    ),
    IfPresent(),
    IsArray({ message: 'Input should be a valid list' }),
    ArrayMaxSize(20, { message: 'List should have at most 20 items after removing duplicates' }),
    IsString({ each: true, message: 'Each tag should be a valid string' }),
    MinLength(1, { each: true, message: 'Each tag should have at least 1 character' }),
    MaxLength(50, { each: true, message: 'Each tag should have at most 50 characters' }),
    NoNulCharacter(true),
  );
}

export function normalizeTags(tags: unknown[]): unknown[] {
  const seen = new Set<string>();
  const result: unknown[] = [];
  for (const tag of tags) {
    if (typeof tag !== 'string') {
      result.push(tag);
      continue;
    }
    const trimmed = tag.trim();
    const key = trimmed.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(trimmed);
  }
  return result;
}

/** `daily`, `weekly`, `monthly`, `yearly` or `null`. */
export function RecurrenceField() {
  return applyDecorators(
    ApiPropertyOptional({ enum: RECURRENCES, nullable: true, description: 'Needs a due_date' }),
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' ? value.trim().toLowerCase() : value,
    ),
    IsOptional(),
    IsIn(RECURRENCES, {
      message: "Input should be 'daily', 'weekly', 'monthly', 'yearly' or null",
    }),
  );
}
