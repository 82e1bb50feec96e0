import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { IntegerFromString } from '../../common/validation.decorators';
import { TaskId, TaskIdProperty, TaskResponse } from './task.response';

export const CHANGES_PAGE_DEFAULT = 500;
export const CHANGES_PAGE_MAX = 1000;

export class ChangesQuery {
  @ApiPropertyOptional({
    description:
      'The `cursor` of the previous answer; omit for everything. Follow it while `has_more`.',
  })
  @IsOptional()
  @IsString({ message: 'Input should be a valid string' })
  @MaxLength(4096, { message: 'String should have at most 4096 characters' })
  since?: string;

  @ApiPropertyOptional({
    type: Number,
    minimum: 1,
    maximum: CHANGES_PAGE_MAX,
    default: CHANGES_PAGE_DEFAULT,
    description: 'Most tasks plus deleted ids in one answer',
  })
  @IsOptional()
  @IntegerFromString({ min: 1, max: CHANGES_PAGE_MAX })
  limit: number = CHANGES_PAGE_DEFAULT;
}

export class ChangesResponse {
  @ApiProperty({ type: [TaskResponse], description: 'Created or changed since the cursor' })
  tasks: TaskResponse[];

  @TaskIdProperty({ isArray: true, description: 'Deleted since the cursor' })
  deleted_ids: TaskId[];

  @ApiProperty({ description: 'Opaque; pass it as `since` next time', example: 'YzIvNzQy' })
  cursor: string;

  @ApiProperty({ description: 'More changes wait: ask again at once with `since=cursor`' })
  has_more: boolean;
}

export class ClearTasksQuery {
  @ApiProperty({ enum: ['completed'], description: 'Required: only completed tasks are cleared' })
  @IsIn(['completed'], {
    message: 'Only status=completed may be deleted in bulk: DELETE …/tasks?status=completed',
  })
  status: 'completed';
}

export class ClearTasksResponse {
  @ApiProperty({ example: 3 })
  deleted: number;
}

export class TaskStatsResponse {
  @ApiProperty() total: number;
  @ApiProperty() completed: number;
  @ApiProperty() pending: number;
  @ApiProperty({ description: 'Not completed, due in the past' }) overdue: number;
  @ApiProperty({ description: 'Not completed, due today (UTC)' }) due_today: number;
}
