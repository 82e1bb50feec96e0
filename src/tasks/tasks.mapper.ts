import { Inject, Injectable, Optional } from '@nestjs/common';
import { tasksConfig, TasksConfig } from '../config/configuration';
import { BulkResultResponse } from './dto/bulk-tasks.dto';
import { DeletedTaskResponse, TaskId, TaskListResponse, TaskResponse } from './dto/task.response';
import { rankToPriority, TaskEntity } from './task.entity';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/**
 * The allow-list from row to wire. A column added to the entity reaches clients only when it is
 * added here, on purpose.
 */
export function toTaskResponse(task: TaskEntity): TaskResponse {
  return {
    id: task.id,
    user_id: task.userId,
    title: task.title,
    description: task.description,
    completed: task.completed,
    priority: rankToPriority(task.priority),
    tags: task.tags,
    due_date: iso(task.dueDate),
    remind_at: iso(task.remindAt),
    recurrence: task.recurrence,
    recurrence_until: iso(task.recurrenceUntil),
    completed_at: iso(task.completedAt),
    next_task_id: task.nextTaskId,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}

/** A strong validator that changes on every write of the task. */
export function etagOf(task: Pick<TaskEntity, 'id' | 'version'>): string {
  return `"${task.id}-${task.version}"`;
}

/** One page of a list: its body as configured, and what the paging headers are made of. */
export interface TaskPage {
  body: TaskResponse[] | TaskListResponse;
  /** Tasks in this page. */
  count: number;
  /** Tasks matching the filters, all pages. */
  total: number;
  limit: number;
  offset: number;
}

/** The settings that shape answers (LIST_RESPONSE, DELETE_RESPONSE, TASK_ID_TYPE). */
export type WireSettings = TasksConfig['wire'];

const DEFAULT_WIRE: WireSettings = {
  listResponse: 'array',
  deleteResponse: 'empty',
  taskIdType: 'integer',
};

const sameIds = (ids: number[]): TaskId[] => ids;
const stringIds = (ids: number[]): TaskId[] => ids.map(String);
const stringId = (id: number | null) => (id === null ? null : String(id));

/** The mapper, then the ids rewritten as strings: one allow-list for both id types. */
function toTaskResponseWithStringIds(task: TaskEntity): TaskResponse {
  const response = toTaskResponse(task);
  response.id = String(task.id);
  response.next_task_id = stringId(task.nextTaskId);
  return response;
}

function arrayPage(tasks: TaskResponse[], total: number, limit: number, offset: number): TaskPage {
  return { body: tasks, count: tasks.length, total, limit, offset };
}

function envelopePage(
  tasks: TaskResponse[],
  total: number,
  limit: number,
  offset: number,
): TaskPage {
  const count = tasks.length;
  const body = { tasks, count, total, limit, offset, has_more: offset + count < total };
  return { body, count, total, limit, offset };
}

/**
 * How answers are shaped for frontends that cannot be changed (the compatibility settings),
 * decided once when the app starts: each member is the function for the configured shape, so
 * the default path runs the same code as before the settings existed and no request pays for
 * choosing. Task ids stay numbers everywhere inside; only what goes on the wire changes.
 */
@Injectable()
export class TaskWire {
  /** Row to wire, ids as TASK_ID_TYPE writes them. */
  readonly task: (task: TaskEntity) => TaskResponse;
  /** Task ids as TASK_ID_TYPE writes them. */
  readonly ids: (ids: number[]) => TaskId[];
  /** One list page: the bare array, or the envelope (LIST_RESPONSE). */
  readonly page: (tasks: TaskResponse[], total: number, limit: number, offset: number) => TaskPage;
  /** The body of a single DELETE: none (204), or `{id, deleted: true}` (DELETE_RESPONSE=json). */
  readonly deleted: (id: number) => DeletedTaskResponse | undefined;
  private readonly id: (id: number) => TaskId;

  constructor(@Optional() @Inject(tasksConfig.KEY) config?: Pick<TasksConfig, 'wire'>) {
    const settings = config?.wire ?? DEFAULT_WIRE;
    const strings = settings.taskIdType === 'string';
    this.task = strings ? toTaskResponseWithStringIds : toTaskResponse;
    this.ids = strings ? stringIds : sameIds;
    this.id = strings ? String : Number;
    this.page = settings.listResponse === 'envelope' ? envelopePage : arrayPage;
    this.deleted =
      settings.deleteResponse === 'json'
        ? (id) => ({ id: this.id(id), deleted: true })
        : () => undefined;
  }

  /**
   * A task stored for an idempotent replay, its ids as this process writes them: TASK_ID_TYPE
   * may have changed since the first answer was stored.
   */
  readonly storedTask = (task: TaskResponse): TaskResponse => ({
    ...task,
    id: this.storedId(task.id),
    next_task_id: this.storedId(task.next_task_id),
  });

  /** A bulk answer stored for an idempotent replay (see {@link storedTask}). */
  readonly storedBulk = (result: BulkResultResponse): BulkResultResponse => ({
    updated: this.ids(result.updated.map(Number)),
    not_found: this.ids(result.not_found.map(Number)),
  });

  private storedId<T extends TaskId | null>(id: T): T | TaskId {
    return id === null ? id : this.id(Number(id));
  }
}
