import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsArray, IsBoolean, IsDate, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { parseIsoTimestamp } from '../../common/iso-timestamp';
import { PRIORITIES, Priority } from '../task.entity';
import { SORT_FIELDS, SortField, TASK_STATUSES, TaskStatusFilter } from '../task.types';
import { IntegerFromString, NoNulCharacter } from '../../common/validation.decorators';
import { MAX_PAGE_SIZE } from '../../config/constants';

const STATUS_ALIASES: Record<string, TaskStatusFilter> = {
  incomplete: 'pending',
  active: 'pending',
};
const SORT_ALIASES: Record<string, SortField> = { created: 'created_at', updated: 'updated_at' };

const lower = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim().toLowerCase() : value;
const list = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim().toLowerCase())
        .filter(Boolean)
    : value;
const timestamp = ({ value }: { value: unknown }) => parseIsoTimestamp(value) ?? value;
const boolean = ({ value }: { value: unknown }) =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
const DATE_MESSAGE = 'Input should be a valid ISO 8601 date or date-time';

/** An ISO 8601 instant (or date) in the query string. */
const TimestampParam = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ format: 'date-time', description }),
    IsOptional(),
    Transform(timestamp),
    IsDate({ message: DATE_MESSAGE }),
  );

/** Free text to look for (`search` and its alias `q`). */
const SearchParam = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ description }),
    IsOptional(),
    IsString({ message: 'Input should be a valid string' }),
    MaxLength(200, { message: 'String should have at most 200 characters' }),
    NoNulCharacter(),
  );

/** A sort field, aliases (`created`, `updated`) resolved (`sort` and its alias `sort_by`). */
const SortParam = (doc: ApiPropertyOptions) =>
  applyDecorators(
    ApiPropertyOptional(doc),
    IsOptional(),
    Transform(({ value }: { value: unknown }) => {
      const v = lower({ value });
      return typeof v === 'string' ? (SORT_ALIASES[v] ?? v) : v;
    }),
    IsIn(SORT_FIELDS, { message: `Input should be one of ${SORT_FIELDS.join(', ')}` }),
  );

export class ListTasksQuery {
  @ApiPropertyOptional({
    enum: [...TASK_STATUSES, 'incomplete', 'active'],
    default: 'all',
    description: '`incomplete` and `active` mean `pending`',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => {
    const v = lower({ value });
    return typeof v === 'string' ? (STATUS_ALIASES[v] ?? v) : v;
  })
  @IsIn(TASK_STATUSES, { message: "Input should be 'all', 'pending' or 'completed'" })
  status: TaskStatusFilter = 'all';

  @ApiPropertyOptional({ description: 'One or more of low, medium, high (comma-separated)' })
  @IsOptional()
  @Transform(list)
  @IsArray({ message: 'Input should be a comma-separated list' })
  @IsIn(PRIORITIES, { each: true, message: "Each priority should be 'low', 'medium' or 'high'" })
  priority?: Priority[];

  @ApiPropertyOptional({ description: 'Tasks with any of these tags (comma-separated)' })
  @IsOptional()
  @Transform(list)
  @IsArray({ message: 'Input should be a comma-separated list' })
  @IsString({ each: true })
  @NoNulCharacter(true)
  tags?: string[];

  @TimestampParam('due_date before this instant')
  due_before?: Date;

  @TimestampParam('due_date after this instant')
  due_after?: Date;

  @ApiPropertyOptional({ type: Boolean, description: 'Not completed and due in the past' })
  @IsOptional()
  @Transform(boolean)
  @IsBoolean({ message: 'Input should be a valid boolean' })
  overdue?: boolean;

  @SearchParam('Case-insensitive substring of title or description')
  search?: string;

  @SearchParam('Alias of `search`')
  q?: string;

  @SortParam({ enum: [...SORT_FIELDS, 'created', 'updated'], default: 'created_at' })
  sort?: SortField;

  @SortParam({ description: 'Alias of `sort`' })
  sort_by?: SortField;

  @ApiPropertyOptional({ enum: ['asc', 'desc'], description: 'Default: desc' })
  @IsOptional()
  @Transform(lower)
  @IsIn(['asc', 'desc'], { message: "Input should be 'asc' or 'desc'" })
  order?: 'asc' | 'desc';

  @TimestampParam('Tasks created or changed after it')
  updated_since?: Date;

  /** Absent: DEFAULT_PAGE_SIZE (the service applies it; the OpenAPI document shows its value). */
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: MAX_PAGE_SIZE,
    description: 'Tasks per page. Default: DEFAULT_PAGE_SIZE',
  })
  @IsOptional()
  @IntegerFromString({ min: 1, max: MAX_PAGE_SIZE })
  limit?: number;

  @ApiPropertyOptional({ type: Number, minimum: 0, default: 0 })
  @IsOptional()
  @IntegerFromString({ min: 0, max: Number.MAX_SAFE_INTEGER })
  offset: number = 0;
}
