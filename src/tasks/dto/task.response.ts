import { ApiProperty, ApiPropertyOptions } from '@nestjs/swagger';
import { PRIORITIES, Priority } from '../task.entity';
import { Recurrence, RECURRENCES } from '../recurrence';

/** A task id on the wire: a JSON integer, or its digits as a string under TASK_ID_TYPE=string. */
export type TaskId = number | string;

/**
 * Marks a schema property that holds task ids, so that the OpenAPI document can show them as the
 * configured TASK_ID_TYPE writes them (tasks.openapi.ts); removed from the document there.
 */
export const TASK_ID_MARK = 'x-task-id';

/** A property holding a task id (or, with `isArray`, task ids): integer unless TASK_ID_TYPE=string. */
export const TaskIdProperty = (options: ApiPropertyOptions = {}) =>
  ApiProperty({
    type: 'integer',
    ...options,
    [TASK_ID_MARK]: true,
  } as unknown as ApiPropertyOptions);

/** A task as it goes on the wire (snake_case, ISO 8601 UTC timestamps). */
export class TaskResponse {
  @TaskIdProperty({ example: 17 })
  id: TaskId;

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

  @TaskIdProperty({
    nullable: true,
    example: null,
    description: 'The occurrence created by completing this recurring task',
  })
  next_task_id: TaskId | null;

  @ApiProperty({ format: 'date-time', example: '2026-11-25T16:50:49.578Z' })
  created_at: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-25T16:50:49.578Z' })
  updated_at: string;
}

/**
 * A list under LIST_RESPONSE=envelope (the default, `array`, answers the bare `tasks` array).
 * Only the two list routes change: the changes feed, bulk, stats and clear-completed answer
 * objects already, whatever the setting.
 */
export class TaskListResponse {
  @ApiProperty({ type: [TaskResponse], description: 'This page of tasks' })
  tasks: TaskResponse[];

  @ApiProperty({ type: 'integer', example: 1, description: 'Tasks in this page (`tasks.length`)' })
  count: number;

  @ApiProperty({
    example: 1,
    description: 'Tasks matching the filters, all pages (`X-Total-Count`)',
  })
  total: number;

  @ApiProperty({
    type: 'integer',
    example: 1000,
    description: 'The page size: `limit`, or DEFAULT_PAGE_SIZE',
  })
  limit: number;

  @ApiProperty({ type: 'integer', example: 0, description: 'Tasks skipped before this page' })
  offset: number;

  @ApiProperty({ example: false, description: 'More pages follow (`Link: rel="next"`)' })
  has_more: boolean;
}

/** DELETE of one task under DELETE_RESPONSE=json (the default, `empty`, answers 204). */
export class DeletedTaskResponse {
  @TaskIdProperty({ example: 17, description: 'The deleted task' })
  id: TaskId;

  @ApiProperty({ example: true, enum: [true] })
  deleted: true;
}
