import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { TaskResponse } from './task.response';

export class ChangesQuery {
  @ApiPropertyOptional({ description: 'The `cursor` of the previous answer; omit for everything' })
  @IsOptional()
  @IsString({ message: 'Input should be a valid string' })
  @MaxLength(200, { message: 'String should have at most 200 characters' })
  since?: string;
}

export class ChangesResponse {
  @ApiProperty({ type: [TaskResponse], description: 'Created or changed since the cursor' })
  tasks: TaskResponse[];

  @ApiProperty({ type: [Number], description: 'Deleted since the cursor' })
  deleted_ids: number[];

  @ApiProperty({ description: 'Opaque; pass it as `since` next time', example: 'eDo3NDI' })
  cursor: string;
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
