import { ApiProperty } from '@nestjs/swagger';
import { PRIORITIES, Priority } from '../task.entity';
import { Recurrence, RECURRENCES } from '../recurrence';

/** A task as it goes on the wire (snake_case, ISO 8601 UTC timestamps). */
export class TaskResponse {
  @ApiProperty({ example: 17 })
  id: number;

  @ApiProperty({
    example: 'R35waxC4PhKloC2BQsg6TBBf0R0VwZjt',
    description: "The owner's Better Auth user id",
  })
  user_id: string;

  @ApiProperty({ example: 'Buy milk', minLength: 1, maxLength: 200 })
  title: string;

  @ApiProperty({ type: String, nullable: true, example: null, maxLength: 1000 })
  description: string | null;

  @ApiProperty({ example: false })
  completed: boolean;

  @ApiProperty({ enum: PRIORITIES, example: 'medium' })
  priority: Priority;

  @ApiProperty({ type: [String], example: ['home'] })
  tags: string[];

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  due_date: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  remind_at: string | null;

  @ApiProperty({ enum: RECURRENCES, nullable: true, example: null })
  recurrence: Recurrence | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  recurrence_until: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'Set when completed, cleared when reopened',
  })
  completed_at: string | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    example: null,
    description: 'The occurrence created by completing this recurring task',
  })
  next_task_id: number | null;

  @ApiProperty({ format: 'date-time', example: '2026-11-25T16:50:49.578Z' })
  created_at: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-25T16:50:49.578Z' })
  updated_at: string;
}
