import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional } from 'class-validator';
import { IntegerFromString } from './validation.decorators';

export const TASK_STATUSES = ['all', 'pending', 'completed'] as const;
export type TaskStatusFilter = (typeof TASK_STATUSES)[number];

const STATUS_ALIASES: Record<string, TaskStatusFilter> = {
  incomplete: 'pending',
  active: 'pending',
};

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export class ListTasksQuery {
  @ApiPropertyOptional({
    enum: [...TASK_STATUSES, 'incomplete', 'active'],
    default: 'all',
    description: '`incomplete` and `active` mean `pending`',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string'
      ? (STATUS_ALIASES[value.toLowerCase()] ?? value.toLowerCase())
      : value,
  )
  @IsIn(TASK_STATUSES, { message: "Input should be 'all', 'pending' or 'completed'" })
  status: TaskStatusFilter = 'all';

  @ApiPropertyOptional({
    type: Number,
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
  })
  @IsOptional()
  @IntegerFromString({ min: 1, max: MAX_PAGE_SIZE })
  limit: number = DEFAULT_PAGE_SIZE;

  @ApiPropertyOptional({ type: Number, minimum: 0, default: 0 })
  @IsOptional()
  @IntegerFromString({ min: 0, max: Number.MAX_SAFE_INTEGER })
  offset: number = 0;
}
