import {
  ConflictException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  NotFoundException,
  Optional,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import { etagMatches } from '../common/etag';
import { tasksConfig, TasksConfig } from '../config/configuration';
import { RequestValidationException } from '../common/validation-error';
import { BulkResultResponse, BulkTasksDto } from './dto/bulk-tasks.dto';
import { CompleteTaskDto } from './dto/complete-task.dto';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQuery } from './dto/list-tasks.query';
import {
  ChangesQuery,
  ChangesResponse,
  ClearTasksResponse,
  TaskStatsResponse,
} from './dto/sync.dto';
import { TaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { nextOccurrence } from './recurrence';
import { Reply } from './reply';
import { priorityToRank, TaskEntity } from './task.entity';
import { etagOf, toTaskResponse } from './tasks.mapper';
import { ChangesPass, decodeCursor, encodeCursor } from './changes-cursor';
import { DeletedTask, NewTask, TaskPatch, TasksRepository } from './tasks.repository';

/** Ids are PostgreSQL `integer`s: anything outside cannot exist, so it is simply not found. */
const MAX_TASK_ID = 2_147_483_647;
const isTaskId = (id: number) => Number.isInteger(id) && id >= 1 && id <= MAX_TASK_ID;

/**
 * A create whose owner holds fewer than `quota - QUOTA_MARGIN` tasks is one statement, its count
 * unlocked; closer to the quota, creates of one owner take a lock and count again. Exact as long
 * as fewer than QUOTA_MARGIN creates of one user are in flight at once (each unlocked count can
 * miss only those): the rate limit and the connection pool keep that far lower.
 */
const QUOTA_MARGIN = 100;

export interface TaskPage {
  tasks: TaskResponse[];
  total: number;
  limit: number;
  offset: number;
}

/** Every task rule. The caller's id comes from the verified token, never from the request. */
@Injectable()
export class TasksService {
  private readonly maxTasks: number;

  constructor(
    private readonly repository: TasksRepository,
    @Optional() @Inject(tasksConfig.KEY) config?: TasksConfig,
  ) {
    this.maxTasks = config?.maxTasksPerUser ?? 10_000;
  }

  async list(ownerId: string, query: ListTasksQuery): Promise<TaskPage> {
    const { tasks, total } = await this.repository.listOwned(ownerId, {
      status: query.status,
      priorities: query.priority?.map(priorityToRank),
      tags: query.tags,
      dueBefore: query.due_before,
      dueAfter: query.due_after,
      overdue: query.overdue,
      search: query.search ?? query.q,
      updatedSince: query.updated_since,
      sort: query.sort ?? query.sort_by ?? 'created_at',
      order: query.order ?? 'desc',
      limit: query.limit,
      offset: query.offset,
    });
    return { tasks: tasks.map(toTaskResponse), total, limit: query.limit, offset: query.offset };
  }

  async get(ownerId: string, id: number): Promise<Reply<TaskResponse>> {
    const task = isTaskId(id) ? await this.repository.findOwned(ownerId, id) : null;
    return replyWith(found(task));
  }

  async create(
    ownerId: string,
    dto: CreateTaskDto,
    idempotencyKey?: string,
  ): Promise<Reply<TaskResponse>> {
    const completed = dto.completed ?? false;
    const fields = {
      title: dto.title,
      description: dto.description ?? null,
      completed,
      priority: priorityToRank(dto.priority ?? 'medium'),
      tags: dto.tags ?? [],
      dueDate: dto.due_date ?? null,
      remindAt: dto.remind_at ?? null,
      recurrence: dto.recurrence ?? null,
      recurrenceUntil: dto.recurrence_until ?? null,
      completedAt: completed ? new Date() : null,
    };
    assertRecurrenceHasDueDate(fields);
    return this.idempotent(
      ownerId,
      idempotencyKey,
      { operation: 'create', payload: dto, status: HttpStatus.CREATED },
      async (tx) => replyWith(await this.createWithinQuota(tx, ownerId, fields)),
    );
  }

  /**
   * Creates a task, in the caller's transaction `tx`, unless its owner holds MAX_TASKS_PER_USER
   * already (409). The common case (far from the quota) is one statement whose margin absorbs
   * concurrent creates; only a create near the quota takes the owner's lock and counts exactly.
   */
  private async createWithinQuota(
    tx: TasksRepository,
    ownerId: string,
    task: NewTask,
  ): Promise<TaskEntity> {
    if (this.maxTasks > QUOTA_MARGIN) {
      const created = await tx.createOwned(ownerId, task, this.maxTasks - QUOTA_MARGIN);
      if (created) return created;
    }
    await tx.lockTaskQuota(ownerId);
    const created = await tx.createOwned(ownerId, task, this.maxTasks);
    if (!created) {
      throw new ConflictException(
        `Task limit reached: a user can hold at most ${this.maxTasks} tasks; delete some first`,
      );
    }
    return created;
  }

  /** PUT and PATCH alike: merge what is present. An update that sets nothing is a client error. */
  async update(
    ownerId: string,
    id: number,
    dto: UpdateTaskDto,
    ifMatch?: string,
  ): Promise<Reply<TaskResponse>> {
    const patch = definedOnly<TaskPatch>({
      title: dto.title,
      description: dto.description,
      completed: dto.completed,
      priority: dto.priority && priorityToRank(dto.priority),
      tags: dto.tags,
      dueDate: dto.due_date,
      remindAt: dto.remind_at,
      recurrence: dto.recurrence,
      recurrenceUntil: dto.recurrence_until,
    });
    if (Object.keys(patch).length === 0) {
      throw RequestValidationException.single(
        ['body'],
        'At least one updatable field must be provided',
        'value_error',
      );
    }
    return this.write(ownerId, id, ifMatch, () => patch);
  }

  /** With `completed` given it is set; without, it toggles. */
  async complete(
    ownerId: string,
    id: number,
    dto: CompleteTaskDto,
    ifMatch?: string,
  ): Promise<Reply<TaskResponse>> {
    return this.write(ownerId, id, ifMatch, (current) => ({
      completed: dto.completed ?? !current.completed,
    }));
  }

  async remove(ownerId: string, id: number, ifMatch?: string): Promise<void> {
    if (!isTaskId(id)) found(null);
    const deleted = await this.repository.transaction(async (tx) => {
      if (ifMatch !== undefined) assertMatches(found(await tx.lockOwned(ownerId, id)), ifMatch);
      return tx.deleteOwned(ownerId, [id]);
    });
    if (deleted.length === 0) found(null);
  }

  async bulk(
    ownerId: string,
    dto: BulkTasksDto,
    idempotencyKey?: string,
  ): Promise<Reply<BulkResultResponse>> {
    const ids = [...new Set(dto.ids)];
    const candidates = ids.filter(isTaskId);
    const request = { operation: 'bulk', payload: dto, status: HttpStatus.OK };
    return this.idempotent(ownerId, idempotencyKey, request, async (tx) => {
      let updated: number[];
      if (dto.action === 'delete') {
        updated = await tx.deleteOwned(ownerId, candidates);
      } else {
        const completed = dto.action === 'complete';
        const tasks = await tx.lockManyOwned(ownerId, candidates);
        for (const task of tasks) {
          if (task.completed !== completed) await this.apply(tx, task, { completed });
        }
        updated = tasks.map((task) => task.id);
      }
      const done = new Set(updated);
      return {
        body: {
          updated: ids.filter((id) => done.has(id)),
          not_found: ids.filter((id) => !done.has(id)),
        },
      };
    });
  }

  async clearCompleted(ownerId: string): Promise<ClearTasksResponse> {
    const deleted = await this.repository.transaction((tx) => tx.deleteCompletedOwned(ownerId));
    return { deleted: deleted.length };
  }

  /**
   * One page of the changes feed (see ChangesCursor): tasks first, then deletions, at most
   * `limit` items in all. Each page is one statement per kind, so no request holds a
   * transaction, and any API process can answer the next page.
   */
  async changes(ownerId: string, query: ChangesQuery): Promise<ChangesResponse> {
    const { since, pass: current } = query.since === undefined ? {} : decodeCursor(query.since);
    const pass = current ?? {
      upto: await this.repository.currentSnapshot(),
      deletions: false,
      afterXid: '0',
      afterId: 0,
    };
    const window = (limit: number) => ({ ...pass, since, limit });
    const more = query.limit + 1; // one beyond the page tells whether there is more

    const changed = pass.deletions ? [] : await this.repository.changedOwned(ownerId, window(more));
    const tasks = changed.slice(0, query.limit);
    let next: ChangesPass | undefined;
    if (changed.length > query.limit) {
      const last = tasks[tasks.length - 1];
      next = { ...pass, afterXid: last.changeXid, afterId: last.task.id };
    }
    let deleted: DeletedTask[] = [];
    if (!next && since !== undefined) {
      // A first sync lists what exists: there is nothing it could have deleted.
      const from = pass.deletions ? pass : { ...pass, afterXid: '0', afterId: 0 };
      const room = query.limit - tasks.length;
      const found = await this.repository.deletedOwned(ownerId, {
        ...from,
        since,
        limit: room + 1,
      });
      deleted = found.slice(0, room);
      if (found.length > room) {
        const last = deleted[deleted.length - 1] as DeletedTask | undefined;
        next = {
          ...from,
          deletions: true,
          ...(last && { afterXid: last.changeXid, afterId: last.taskId }),
        };
      }
    }
    return {
      tasks: tasks.map(({ task }) => toTaskResponse(task)),
      deleted_ids: deleted.map(({ taskId }) => taskId),
      cursor: encodeCursor(next ? { since, pass: next } : { since: pass.upto }),
      has_more: next !== undefined,
    };
  }

  stats(ownerId: string): Promise<TaskStatsResponse> {
    return this.repository.statsOwned(ownerId);
  }

  /** Locks the task, checks `If-Match`, then applies the patch `change` derives from it. */
  private async write(
    ownerId: string,
    id: number,
    ifMatch: string | undefined,
    change: (current: TaskEntity) => TaskPatch,
  ): Promise<Reply<TaskResponse>> {
    if (!isTaskId(id)) found(null);
    return this.repository.transaction(async (tx) => {
      const current = found(await tx.lockOwned(ownerId, id));
      if (ifMatch !== undefined) assertMatches(current, ifMatch);
      return replyWith(await this.apply(tx, current, change(current)));
    });
  }

  /**
   * The one place a change to an existing task is made, so every route gets the same rules:
   * `completed_at` follows `completed`, and completing a recurring task creates its next
   * occurrence once (the row is locked; `next_task_id` remembers the first).
   */
  private async apply(tx: TasksRepository, current: TaskEntity, patch: TaskPatch) {
    const merged = { ...current, ...patch };
    assertRecurrenceHasDueDate(merged);
    const write: TaskPatch = { ...patch };
    if (patch.completed !== undefined && patch.completed !== current.completed) {
      write.completedAt = patch.completed ? new Date() : null;
      if (patch.completed && merged.recurrence && merged.dueDate && current.nextTaskId === null) {
        const next = nextOccurrence({
          dueDate: merged.dueDate,
          remindAt: merged.remindAt,
          recurrence: merged.recurrence,
          recurrenceUntil: merged.recurrenceUntil,
        });
        if (next) {
          const occurrence = await this.createWithinQuota(tx, current.userId, {
            title: merged.title,
            description: merged.description,
            completed: false,
            priority: merged.priority,
            tags: merged.tags,
            dueDate: next.dueDate,
            remindAt: next.remindAt,
            recurrence: merged.recurrence,
            recurrenceUntil: merged.recurrenceUntil,
            completedAt: null,
          });
          write.nextTaskId = occurrence.id;
        }
      }
    }
    return found(await tx.updateOwned(current.userId, current.id, write));
  }

  /**
   * Runs `work` once per (user, key): a retry with the same body gets the stored reply, marked
   * replayed; the same key with another body is a client error. Either way `work` runs in one
   * transaction, committed before the answer leaves.
   */
  private async idempotent<T>(
    ownerId: string,
    key: string | undefined,
    request: { operation: string; payload: object; status: number },
    work: (tx: TasksRepository) => Promise<Reply<T>>,
  ): Promise<Reply<T>> {
    const { operation, payload, status } = request;
    if (key === undefined) return this.repository.transaction(work);
    const requestHash = createHash('sha256')
      .update(`${operation}\n${stableJson(payload)}`)
      .digest('hex');
    return this.repository.transaction(async (tx) => {
      const claim = await tx.claimIdempotencyKey(ownerId, key, requestHash);
      if (claim !== 'claimed') {
        if (claim.requestHash !== requestHash) {
          throw RequestValidationException.single(
            ['header', 'Idempotency-Key'],
            'This Idempotency-Key was already used with a different request',
            'idempotency_key_reused',
          );
        }
        if (claim.status === null)
          throw new ConflictException('The original request is still running');
        return { body: claim.body as T, etag: claim.etag ?? undefined, replayed: true };
      }
      const reply = await work(tx);
      await tx.storeIdempotentReply(ownerId, key, { status, body: reply.body, etag: reply.etag });
      return reply;
    });
  }
}

function replyWith(task: TaskEntity): Reply<TaskResponse> {
  return { body: toTaskResponse(task), etag: etagOf(task) };
}

/** Another user's task and a missing one look the same: existence never leaks. */
function found<T>(task: T | null): T {
  if (!task) throw new NotFoundException('Task not found');
  return task;
}

function assertMatches(task: TaskEntity, ifMatch: string): void {
  if (!etagMatches(ifMatch, etagOf(task), 'strong')) {
    throw new HttpException(
      'Precondition Failed: the task has changed since that ETag',
      HttpStatus.PRECONDITION_FAILED,
    );
  }
}

function assertRecurrenceHasDueDate(task: { recurrence: unknown; dueDate: Date | null }): void {
  if (task.recurrence && !task.dueDate) {
    throw RequestValidationException.single(
      ['body', 'recurrence'],
      'A recurring task needs a due_date',
      'value_error',
    );
  }
}

function definedOnly<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
