import { ForbiddenException, HttpStatus, Inject, Injectable, Optional } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { etagMatches } from '../common/etag';
import { tasksConfig, TasksConfig } from '../config/configuration';
import { MAX_PAGE_SIZE } from '../config/constants';
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
import { toTaskFields } from './dto/task-fields.dto';
import { DeletedTaskResponse, TaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { IdempotencyService } from './idempotency/idempotency.service';
import { nextOccurrence } from './recurrence';
import { Reply } from './reply';
import { ChangesService } from './sync/changes.service';
import { NewTask, priorityToRank, TaskEntity, taskFieldsOf, TaskPatch } from './task.entity';
import { TaskCaller } from './task.types';
import { TaskNotFound, TaskPreconditionFailed, TaskQuotaReached } from './tasks.errors';
import { etagOf, TaskPage, TaskWire } from './tasks.mapper';
import { TasksRepository } from './tasks.repository';
import { Transactions } from '../database/transactions';

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

/**
 * Every task rule, ownership first: each method resolves whose tasks the caller may touch
 * ({@link ownerOf}), and the repository keeps that owner in every query, so another user's task
 * is simply not found.
 */
@Injectable()
export class TasksService {
  private readonly maxTasks: number;
  private readonly defaultPageSize: number;

  constructor(
    private readonly repository: TasksRepository,
    private readonly transactions: Transactions,
    private readonly idempotency: IdempotencyService,
    private readonly changesFeed: ChangesService,
    private readonly wire: TaskWire,
    @Optional() @Inject(tasksConfig.KEY) config?: TasksConfig,
  ) {
    this.maxTasks = config?.maxTasksPerUser ?? 10_000;
    this.defaultPageSize = config?.defaultPageSize ?? MAX_PAGE_SIZE;
  }

  /**
   * The owner of the tasks a request may touch: always the token's user. The user-scoped route
   * family names a user in its path; naming anyone else is refused (403), never followed.
   */
  ownerOf(caller: TaskCaller): string {
    if (caller.pathUserId !== undefined && caller.pathUserId !== caller.userId) {
      throw new ForbiddenException('Not allowed to access tasks of another user');
    }
    return caller.userId;
  }

  /** One page, `limit` DEFAULT_PAGE_SIZE unless the query names one. */
  async list(caller: TaskCaller, query: ListTasksQuery): Promise<TaskPage> {
    const limit = query.limit ?? this.defaultPageSize;
    const { tasks, total } = await this.repository.listOwned(this.ownerOf(caller), {
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
      limit,
      offset: query.offset,
    });
    return this.wire.page(tasks.map(this.wire.task), total, limit, query.offset);
  }

  async get(caller: TaskCaller, id: number): Promise<Reply<TaskResponse>> {
    const ownerId = this.ownerOf(caller);
    const task = isTaskId(id) ? await this.repository.findOwned(ownerId, id) : null;
    return this.replyWith(found(task));
  }

  async create(
    caller: TaskCaller,
    dto: CreateTaskDto,
    idempotencyKey?: string,
  ): Promise<Reply<TaskResponse>> {
    const ownerId = this.ownerOf(caller);
    const completed = dto.completed ?? false;
    const task: NewTask = {
      ...toTaskFields(dto),
      title: dto.title,
      completed,
      priority: priorityToRank(dto.priority ?? 'medium'),
      tags: dto.tags ?? [],
      completedAt: completed ? new Date() : null,
    };
    assertRecurrenceHasDueDate(task);
    const request = {
      operation: 'create',
      payload: dto,
      status: HttpStatus.CREATED,
      replayed: this.wire.storedTask,
    };
    return this.idempotency.once(ownerId, idempotencyKey, request, async (tx) =>
      this.replyWith(await this.createWithinQuota(this.repository.in(tx), ownerId, task)),
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
    if (!created) throw new TaskQuotaReached(this.maxTasks);
    return created;
  }

  /** PUT and PATCH alike: merge what is present. An update that sets nothing is a client error. */
  async update(
    caller: TaskCaller,
    id: number,
    dto: UpdateTaskDto,
    ifMatch?: string,
  ): Promise<Reply<TaskResponse>> {
    const ownerId = this.ownerOf(caller);
    const patch: TaskPatch = toTaskFields(dto);
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
    caller: TaskCaller,
    id: number,
    dto: CompleteTaskDto,
    ifMatch?: string,
  ): Promise<Reply<TaskResponse>> {
    return this.write(this.ownerOf(caller), id, ifMatch, (current) => ({
      completed: dto.completed ?? !current.completed,
    }));
  }

  /** The body to answer with: none (204) unless DELETE_RESPONSE=json. */
  async remove(
    caller: TaskCaller,
    id: number,
    ifMatch?: string,
  ): Promise<DeletedTaskResponse | undefined> {
    const ownerId = this.ownerOf(caller);
    if (!isTaskId(id)) found(null);
    const deleted = await this.transactions.run(async (manager) => {
      const tx = this.repository.in(manager);
      if (ifMatch !== undefined) assertMatches(found(await tx.lockOwned(ownerId, id)), ifMatch);
      return this.delete(manager, ownerId, await tx.deleteOwned(ownerId, [id]));
    });
    if (deleted.length === 0) found(null);
    return this.wire.deleted(id);
  }

  async bulk(
    caller: TaskCaller,
    dto: BulkTasksDto,
    idempotencyKey?: string,
  ): Promise<Reply<BulkResultResponse>> {
    const ownerId = this.ownerOf(caller);
    const ids = [...new Set(dto.ids)];
    const candidates = ids.filter(isTaskId);
    const request = {
      operation: 'bulk',
      payload: dto,
      status: HttpStatus.OK,
      replayed: this.wire.storedBulk,
    };
    return this.idempotency.once(ownerId, idempotencyKey, request, async (manager) => {
      const tx = this.repository.in(manager);
      let updated: number[];
      if (dto.action === 'delete') {
        updated = await this.delete(manager, ownerId, await tx.deleteOwned(ownerId, candidates));
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
          updated: this.wire.ids(ids.filter((id) => done.has(id))),
          not_found: this.wire.ids(ids.filter((id) => !done.has(id))),
        },
      };
    });
  }

  async clearCompleted(caller: TaskCaller): Promise<ClearTasksResponse> {
    const ownerId = this.ownerOf(caller);
    const deleted = await this.transactions.run(async (manager) =>
      this.delete(
        manager,
        ownerId,
        await this.repository.in(manager).deleteCompletedOwned(ownerId),
      ),
    );
    return { deleted: deleted.length };
  }

  changes(caller: TaskCaller, query: ChangesQuery): Promise<ChangesResponse> {
    return this.changesFeed.page(this.ownerOf(caller), query);
  }

  stats(caller: TaskCaller): Promise<TaskStatsResponse> {
    return this.repository.statsOwned(this.ownerOf(caller));
  }

  /** Deleted tasks stay visible to the changes feed (tombstones), in the same transaction. */
  private async delete(manager: EntityManager, ownerId: string, ids: number[]): Promise<number[]> {
    await this.changesFeed.recordDeletions(manager, ownerId, ids);
    return ids;
  }

  /** Locks the task, checks `If-Match`, then applies the patch `change` derives from it. */
  private async write(
    ownerId: string,
    id: number,
    ifMatch: string | undefined,
    change: (current: TaskEntity) => TaskPatch,
  ): Promise<Reply<TaskResponse>> {
    if (!isTaskId(id)) found(null);
    return this.transactions.run(async (manager) => {
      const tx = this.repository.in(manager);
      const current = found(await tx.lockOwned(ownerId, id));
      if (ifMatch !== undefined) assertMatches(current, ifMatch);
      return this.replyWith(await this.apply(tx, current, change(current)));
    });
  }

  private replyWith(task: TaskEntity): Reply<TaskResponse> {
    return { body: this.wire.task(task), etag: etagOf(task) };
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
          ...merged,
          recurrence: merged.recurrence,
          dueDate: merged.dueDate,
        });
        if (next) {
          // Every field of the task carries over, but its schedule and completion.
          const occurrence = await this.createWithinQuota(tx, current.userId, {
            ...taskFieldsOf(merged),
            ...next,
            completed: false,
            completedAt: null,
          });
          write.nextTaskId = occurrence.id;
        }
      }
    }
    return found(await tx.updateOwned(current.userId, current.id, write));
  }
}

/** Another user's task and a missing one look the same: existence never leaks. */
function found<T>(task: T | null): T {
  if (!task) throw new TaskNotFound();
  return task;
}

function assertMatches(task: TaskEntity, ifMatch: string): void {
  if (!etagMatches(ifMatch, etagOf(task), 'strong')) throw new TaskPreconditionFailed();
}

function assertRecurrenceHasDueDate(task: { recurrence?: unknown; dueDate?: Date | null }): void {
  if (task.recurrence && !task.dueDate) {
    throw RequestValidationException.single(
      ['body', 'recurrence'],
      'A recurring task needs a due_date',
      'value_error',
    );
  }
}
