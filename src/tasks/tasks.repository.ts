import { Injectable, Optional } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { AppConfig } from '../config/app-config';
import { SortField, TaskStatusFilter } from './dto/list-tasks.query';
import { Recurrence } from './recurrence';
import { TaskEntity, TaskFields } from './task.entity';

export interface TaskListFilter {
  status: TaskStatusFilter;
  priorities?: number[];
  tags?: string[];
  dueBefore?: Date;
  dueAfter?: Date;
  overdue?: boolean;
  search?: string;
  updatedSince?: Date;
  sort: SortField;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export type TaskPatch = Partial<TaskFields & Pick<TaskEntity, 'completedAt' | 'nextTaskId'>>;
export type NewTask = TaskFields & Pick<TaskEntity, 'completedAt'>;

export interface StoredReply {
  requestHash: string;
  status: number | null;
  body: unknown;
  etag: string | null;
}

export interface TaskStats {
  total: number;
  completed: number;
  pending: number;
  overdue: number;
  due_today: number;
}

/** Entity property → column, for the fields a write may set. Anything else cannot be written. */
const WRITABLE: Record<keyof TaskPatch, string> = {
  title: 'title',
  description: 'description',
  completed: 'completed',
  priority: 'priority',
  tags: 'tags',
  dueDate: 'due_date',
  remindAt: 'remind_at',
  recurrence: 'recurrence',
  recurrenceUntil: 'recurrence_until',
  completedAt: 'completed_at',
  nextTaskId: 'next_task_id',
};

const COLUMNS = `id, user_id, title, description, completed, priority, tags, due_date, remind_at,
  recurrence, recurrence_until, completed_at, next_task_id, version, created_at, updated_at`;

const ORDER_BY: Record<SortField, (dir: string) => string> = {
  created_at: (dir) => `created_at ${dir}, id ${dir}`,
  updated_at: (dir) => `updated_at ${dir}, id ${dir}`,
  // Tasks without a due date come last in both directions.
  due_date: (dir) => `due_date ${dir} NULLS LAST, id ${dir}`,
  priority: (dir) => `priority ${dir}, id ${dir}`,
  title: (dir) => `lower(title) ${dir}, id ${dir}`,
};

interface TaskRow {
  id: number;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  priority: number;
  tags: string[];
  due_date: Date | null;
  remind_at: Date | null;
  recurrence: Recurrence | null;
  recurrence_until: Date | null;
  completed_at: Date | null;
  next_task_id: number | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

function fromRow(row: TaskRow): TaskEntity {
  return {
    id: row.id,
    userId: row.user_id,
    title: row.title,
    description: row.description,
    completed: row.completed,
    priority: row.priority,
    tags: row.tags,
    dueDate: row.due_date,
    remindAt: row.remind_at,
    recurrence: row.recurrence,
    recurrenceUntil: row.recurrence_until,
    completedAt: row.completed_at,
    nextTaskId: row.next_task_id,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const statementNames = new Map<string, string>();
/** A stable name per SQL text: PostgreSQL plans a named statement once per connection. */
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `task_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    statementNames.set(sql, name);
  }
  return name;
}

/** `%` and `_` in a search are literal characters. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The only way to the task tables. Every method takes the owner's id and puts it in the query's
 * WHERE clause, so a query that forgets whose tasks it touches cannot be written by accident.
 * Plain SQL over TypeORM's connection: the rows map straight to what the response needs.
 */
@Injectable()
export class TasksRepository {
  private readonly preparedStatements: boolean;

  constructor(
    @InjectEntityManager() private readonly manager: EntityManager,
    @Optional() config?: AppConfig,
  ) {
    this.preparedStatements = config?.database.preparedStatements ?? false;
  }

  /** Runs `work` in one transaction, with a repository bound to it. */
  transaction<T>(work: (tx: TasksRepository) => Promise<T>): Promise<T> {
    return this.manager.transaction((manager) => work(new TasksRepository(manager)));
  }

  /**
   * Reads. Outside a transaction they go straight to the pool as named (prepared) statements:
   * parsed and planned once per connection, and no query-runner object per call.
   */
  private async select<T>(sql: string, params: unknown[]): Promise<T[]> {
    if (this.preparedStatements && !this.manager.queryRunner) {
      const pool = (this.manager.connection.driver as PostgresDriver).master as Pool;
      return (await pool.query({ name: statementName(sql), text: sql, values: params }))
        .rows as T[];
    }
    return this.manager.query<T[]>(sql, params);
  }

  private async rows(sql: string, params: unknown[]): Promise<TaskEntity[]> {
    return (await this.select<TaskRow>(sql, params)).map(fromRow);
  }

  async listOwned(
    ownerId: string,
    filter: TaskListFilter,
  ): Promise<{ tasks: TaskEntity[]; total: number }> {
    const params: unknown[] = [ownerId];
    const where = ['user_id = $1'];
    const param = (value: unknown) => `$${params.push(value)}`;

    if (filter.status !== 'all') where.push(`completed = ${param(filter.status === 'completed')}`);
    if (filter.priorities?.length)
      where.push(`priority = ANY(${param(filter.priorities)}::smallint[])`);
    if (filter.tags?.length) {
      where.push(
        `EXISTS (SELECT 1 FROM unnest(tags) AS tag WHERE lower(tag) = ANY(${param(filter.tags)}::text[]))`,
      );
    }
    if (filter.dueBefore) where.push(`due_date < ${param(filter.dueBefore)}`);
    if (filter.dueAfter) where.push(`due_date > ${param(filter.dueAfter)}`);
    if (filter.overdue === true) where.push(`NOT completed AND due_date < now()`);
    if (filter.overdue === false)
      where.push(`(completed OR due_date IS NULL OR due_date >= now())`);
    if (filter.updatedSince) where.push(`updated_at > ${param(filter.updatedSince)}`);
    if (filter.search) {
      const pattern = param(`%${escapeLike(filter.search)}%`);
      where.push(`(title ILIKE ${pattern} OR description ILIKE ${pattern})`);
    }
    const direction = filter.order === 'asc' ? 'ASC' : 'DESC';
    const rows = await this.select<TaskRow & { total_count: string }>(
      `SELECT ${COLUMNS}, count(*) OVER () AS total_count FROM task
       WHERE ${where.join(' AND ')}
       ORDER BY ${ORDER_BY[filter.sort](direction)}
       LIMIT ${param(filter.limit)} OFFSET ${param(filter.offset)}`,
      params,
    );

    if (rows.length > 0 || filter.offset === 0) {
      return { tasks: rows.map(fromRow), total: rows.length ? Number(rows[0].total_count) : 0 };
    }
    // Paged past the end: the window count saw no row, so count separately.
    const [{ count }] = await this.select<{ count: number }>(
      `SELECT count(*)::int AS count FROM task WHERE ${where.join(' AND ')}`,
      params.slice(0, -2),
    );
    return { tasks: [], total: count };
  }

  async findOwned(ownerId: string, id: number): Promise<TaskEntity | null> {
    const [task] = await this.rows(`SELECT ${COLUMNS} FROM task WHERE id = $1 AND user_id = $2`, [
      id,
      ownerId,
    ]);
    return task ?? null;
  }

  /** The row, locked until the transaction ends: concurrent writers of the task queue up. */
  async lockOwned(ownerId: string, id: number): Promise<TaskEntity | null> {
    const [task] = await this.rows(
      `SELECT ${COLUMNS} FROM task WHERE id = $1 AND user_id = $2 FOR UPDATE`,
      [id, ownerId],
    );
    return task ?? null;
  }

  async lockManyOwned(ownerId: string, ids: number[]): Promise<TaskEntity[]> {
    return this.rows(
      `SELECT ${COLUMNS} FROM task WHERE user_id = $1 AND id = ANY($2::int[]) ORDER BY id FOR UPDATE`,
      [ownerId, ids],
    );
  }

  /**
   * Inserts the task, unless its owner already holds `below` tasks or more (counted in the same
   * statement, at most `below` index entries read): then null. The count sees the statement's
   * snapshot, so it is exact only where creates of one owner are serialised ({@link lockTaskQuota}).
   */
  async createOwned(ownerId: string, task: NewTask, below: number): Promise<TaskEntity | null> {
    const [created] = await this.rows(
      `INSERT INTO task (user_id, title, description, completed, priority, tags, due_date,
         remind_at, recurrence, recurrence_until, completed_at)
       SELECT $1, $2, $3, $4::boolean, $5::smallint, $6::text[], $7::timestamptz,
         $8::timestamptz, $9, $10::timestamptz, $11::timestamptz
       WHERE (SELECT count(*) FROM (SELECT 1 FROM task WHERE user_id = $1 LIMIT $12) owned) < $12
       RETURNING ${COLUMNS}`,
      [
        ownerId,
        task.title,
        task.description,
        task.completed,
        task.priority,
        task.tags,
        task.dueDate,
        task.remindAt,
        task.recurrence,
        task.recurrenceUntil,
        task.completedAt,
        below,
      ],
    );
    return created ?? null;
  }

  /**
   * Serialises the creates of one owner until this transaction ends (an advisory lock on the
   * owner's id), so the count in {@link createOwned} sees every task committed before it.
   */
  async lockTaskQuota(ownerId: string): Promise<void> {
    await this.manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7071))`, [ownerId]);
  }

  /** Applies `patch` in one statement and returns the row as it is afterwards. */
  async updateOwned(ownerId: string, id: number, patch: TaskPatch): Promise<TaskEntity | null> {
    const params: unknown[] = [id, ownerId];
    const sets = Object.entries(patch)
      .filter(([key, value]) => key in WRITABLE && value !== undefined)
      .map(([key, value]) => `${WRITABLE[key as keyof TaskPatch]} = $${params.push(value)}`);
    if (sets.length === 0) sets.push('id = id'); // still a write: the trigger bumps the version
    // TypeORM answers an UPDATE with [rows, affected count].
    const [rows] = await this.manager.query<[TaskRow[], number]>(
      `UPDATE task SET ${sets.join(', ')} WHERE id = $1 AND user_id = $2 RETURNING ${COLUMNS}`,
      params,
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** Deletes the owner's tasks among `ids` and remembers them for the changes feed. */
  async deleteOwned(ownerId: string, ids: number[]): Promise<number[]> {
    return this.tombstone(
      `DELETE FROM task WHERE user_id = $1 AND id = ANY($2::int[]) RETURNING id, user_id`,
      [ownerId, ids],
    );
  }

  async deleteCompletedOwned(ownerId: string): Promise<number[]> {
    return this.tombstone(
      `DELETE FROM task WHERE user_id = $1 AND completed RETURNING id, user_id`,
      [ownerId],
    );
  }

  private async tombstone(deleteSql: string, params: unknown[]): Promise<number[]> {
    const rows = await this.manager.query<{ task_id: number }[]>(
      `WITH deleted AS (${deleteSql})
       INSERT INTO task_tombstone (task_id, user_id) SELECT id, user_id FROM deleted
       RETURNING task_id`,
      params,
    );
    return rows.map((row) => row.task_id);
  }

  /**
   * Everything changed after `since`, read in one snapshot. `since` is the snapshot of the
   * previous read (`xmin:xmax:xip`): a change is new when its transaction was not visible to that
   * snapshot, so a write that committed late with an older transaction id is still seen once,
   * and nothing already sent is sent again.
   */
  async changesOwned(
    ownerId: string,
    since: string | undefined,
  ): Promise<{ tasks: TaskEntity[]; deletedIds: number[]; snapshot: string }> {
    return this.manager.transaction('REPEATABLE READ', async (manager) => {
      const [{ snapshot }] = await manager.query<{ snapshot: string }[]>(
        `SELECT pg_current_snapshot()::text AS snapshot`,
      );
      const tx = new TasksRepository(manager);
      if (since === undefined) {
        const tasks = await tx.rows(`SELECT ${COLUMNS} FROM task WHERE user_id = $1 ORDER BY id`, [
          ownerId,
        ]);
        return { tasks, deletedIds: [], snapshot };
      }
      const isNew = `change_xid >= pg_snapshot_xmin($2::pg_snapshot)::text::bigint
        AND NOT pg_visible_in_snapshot(change_xid::text::xid8, $2::pg_snapshot)`;
      const tasks = await tx.rows(
        `SELECT ${COLUMNS} FROM task WHERE user_id = $1 AND ${isNew} ORDER BY id`,
        [ownerId, since],
      );
      const deleted = await manager.query<{ task_id: number }[]>(
        `SELECT task_id FROM task_tombstone WHERE user_id = $1 AND ${isNew} ORDER BY task_id`,
        [ownerId, since],
      );
      return { tasks, deletedIds: deleted.map((row) => row.task_id), snapshot };
    });
  }

  async statsOwned(ownerId: string): Promise<TaskStats> {
    const [stats] = await this.select<TaskStats>(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE completed)::int AS completed,
              count(*) FILTER (WHERE NOT completed)::int AS pending,
              count(*) FILTER (WHERE NOT completed AND due_date < now())::int AS overdue,
              count(*) FILTER (WHERE NOT completed
                AND due_date >= date_trunc('day', now(), 'UTC')
                AND due_date < date_trunc('day', now(), 'UTC') + interval '1 day')::int AS due_today
       FROM task WHERE user_id = $1`,
      [ownerId],
    );
    return stats;
  }

  /**
   * Claims an idempotency key for this transaction. A concurrent claim of the same key waits for
   * ours to finish (unique index), then finds the stored reply. Keys older than 24 h are free.
   */
  async claimIdempotencyKey(
    ownerId: string,
    key: string,
    requestHash: string,
  ): Promise<StoredReply | 'claimed'> {
    const claimed = await this.manager.query<unknown[]>(
      `INSERT INTO idempotency_key (user_id, key, request_hash) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, response_status = NULL,
             response_body = NULL, response_etag = NULL, created_at = now()
         WHERE idempotency_key.created_at < now() - interval '24 hours'
       RETURNING key`,
      [ownerId, key, requestHash],
    );
    if (claimed.length) return 'claimed';
    const [stored] = await this.manager.query<
      {
        request_hash: string;
        response_status: number | null;
        response_body: unknown;
        response_etag: string | null;
      }[]
    >(
      `SELECT request_hash, response_status, response_body, response_etag
       FROM idempotency_key WHERE user_id = $1 AND key = $2`,
      [ownerId, key],
    );
    return {
      requestHash: stored.request_hash,
      status: stored.response_status,
      body: stored.response_body,
      etag: stored.response_etag,
    };
  }

  async storeIdempotentReply(
    ownerId: string,
    key: string,
    reply: { status: number; body: unknown; etag?: string },
  ): Promise<void> {
    await this.manager.query(
      `UPDATE idempotency_key SET response_status = $3, response_body = $4, response_etag = $5
       WHERE user_id = $1 AND key = $2`,
      [ownerId, key, reply.status, JSON.stringify(reply.body), reply.etag ?? null],
    );
  }

  /** Housekeeping: forgets tombstones and idempotency keys past their retention. */
  async purgeExpired(tombstoneDays: number, idempotencyHours: number): Promise<void> {
    await this.manager.query(
      `DELETE FROM task_tombstone WHERE deleted_at < now() - make_interval(days => $1)`,
      [tombstoneDays],
    );
    await this.manager.query(
      `DELETE FROM idempotency_key WHERE created_at < now() - make_interval(hours => $1)`,
      [idempotencyHours],
    );
  }
}
