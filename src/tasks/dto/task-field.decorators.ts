/** Validators of task fields; the generic ones are in common/validation.decorators.ts. */
import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { RECURRENCES } from '../recurrence';
import { PRIORITIES } from '../task.entity';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
} from 'class-validator';
import { IfPresent, NoNulCharacter, Present, trim } from '../../common/validation.decorators';

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
