import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { databaseConfig, DatabaseConfig } from '../config/configuration';
import { SessionLimits } from '../database/connection-guard';
import { sqlState } from '../common/sql-state';
import { inTransaction, TransactionOptions } from '../database/transactions';
import { ChangesPass } from './changes-cursor';
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

export interface TaskRow {
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

/** A row as PostgreSQL returns it (snake_case columns) to the entity. */
export function fromRow(row: TaskRow): TaskEntity {
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

/** A change's position in the feed, with what it is. */
export interface ChangedTask {
  task: TaskEntity;
  changeXid: string;
}
export interface DeletedTask {
  taskId: number;
  changeXid: string;
}
/** One page of a changes pass: what `since` did not see and `pass.upto` does, after the key. */
export interface ChangeWindow extends Pick<ChangesPass, 'upto' | 'afterXid' | 'afterId'> {
  since?: string;
  limit: number;
}

/**
 * Named statements work on a direct connection and through poolers that keep them (PgBouncer
 * 1.21+ with max_prepared_statements, Neon's). A transaction-mode pooler without that answers
 * "prepared statement … does not exist / already exists": then this process switches to unnamed
 * statements for good, says so once, and the read is sent again.
 */
const PREPARED_STATEMENT_REFUSED = new Set(['26000', '42P05']);

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

/**
 * A change is in the window when the snapshot `upto` sees its transaction, `since` (if any) did
 * not, and it comes after the last one sent. Parameters: see {@link changeWindowParams}.
 */
function changeWindowSql(idColumn: string, window: ChangeWindow): string {
  const seenBy = (snapshot: string) =>
    `pg_visible_in_snapshot(change_xid::text::xid8, ${snapshot}::pg_snapshot)`;
  return [
    `(change_xid, ${idColumn}) > ($3::bigint, $4::int)`,
    `change_xid < pg_snapshot_xmax($2::pg_snapshot)::text::bigint`,
    seenBy('$2'),
    ...(window.since === undefined
      ? []
      : [`change_xid >= pg_snapshot_xmin($6::pg_snapshot)::text::bigint`, `NOT ${seenBy('$6')}`]),
  ].join(' AND ');
}

function changeWindowParams(ownerId: string, window: ChangeWindow): unknown[] {
  const params = [ownerId, window.upto, window.afterXid, window.afterId, window.limit];
  return window.since === undefined ? params : [...params, window.since];
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
  private static readonly logger = new Logger(TasksRepository.name);
  /** Shared by every instance of a process (transaction-bound ones too), see the fallback. */
  private static namedStatements = true;
  private readonly limits: SessionLimits;

  constructor(
    @InjectEntityManager() private readonly manager: EntityManager,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {
    this.limits = config.limits;
    TasksRepository.namedStatements &&= config.preparedStatements;
  }

  /**
   * Runs `work` in one transaction, with a repository bound to it: committed before this
   * resolves, or rolled back (see inTransaction for the limits and retries).
   */
  transaction<T>(
    work: (tx: TasksRepository) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> {
    return inTransaction(
      this.manager.connection,
      this.limits,
      (manager) => work(new TasksRepository(manager, this.config)),
      options,
    );
  }

  /**
   * Reads. Outside a transaction they go straight to the pool as named (prepared) statements:
   * parsed and planned once per connection, and no query-runner object per call.
   */
  private async select<T>(sql: string, params: unknown[]): Promise<T[]> {
    if (TasksRepository.namedStatements && !this.manager.queryRunner) {
      const pool = (this.manager.connection.driver as PostgresDriver).master as Pool;
      try {
        return (await pool.query({ name: statementName(sql), text: sql, values: params }))
          .rows as T[];
      } catch (error) {
        if (!PREPARED_STATEMENT_REFUSED.has(sqlState(error) ?? '')) throw error;
        if (TasksRepository.namedStatements) {
          TasksRepository.namedStatements = false;
          TasksRepository.logger.warn(
            'The database (or a pooler in front of it) refused a named prepared statement: ' +
              'using unnamed statements from now on. Set DATABASE_PREPARED_STATEMENTS=false ' +
              'to start that way.',
          );
        }
      }
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
    const conditions = where.join(' AND ');
    const tasks = await this.rows(
      `SELECT ${COLUMNS} FROM task WHERE ${conditions}
       ORDER BY ${ORDER_BY[filter.sort](direction)}
       LIMIT ${param(filter.limit)} OFFSET ${param(filter.offset)}`,
      params,
    );
    // A page that is not full ends the list, so it tells the total. Only a full page (or one past
    // the end) needs a count, which PostgreSQL answers from the index without the rows' columns.
    const endsHere = tasks.length < filter.limit && (tasks.length > 0 || filter.offset === 0);
    if (endsHere) return { tasks, total: filter.offset + tasks.length };
    const [{ count }] = await this.select<{ count: number }>(
      `SELECT count(*)::int AS count FROM task WHERE ${conditions}`,
      params.slice(0, -2),
    );
    return { tasks, total: count };
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

  /** The snapshot a changes pass reads up to (`xmin:xmax:xip,…`). */
  async currentSnapshot(): Promise<string> {
    const [{ snapshot }] = await this.select<{ snapshot: string }>(
      'SELECT pg_current_snapshot()::text AS snapshot',
      [],
    );
    return snapshot;
  }

  /**
   * The owner's tasks changed in the window, in feed order, at most `window.limit`. `change_xid`
   * stays a bigint in SQL (an alias cast to text would make ORDER BY sort '1000' before '999',
   * skipping rows at a page boundary, and miss the index); `pg` hands bigints over as strings.
   */
  async changedOwned(ownerId: string, window: ChangeWindow): Promise<ChangedTask[]> {
    const rows = await this.select<TaskRow & { change_xid: string }>(
      `SELECT ${COLUMNS}, change_xid FROM task
       WHERE user_id = $1 AND ${changeWindowSql('id', window)}
       ORDER BY change_xid, id LIMIT $5`,
      changeWindowParams(ownerId, window),
    );
    return rows.map((row) => ({ task: fromRow(row), changeXid: row.change_xid }));
  }

  /** The owner's deletions in the window, in feed order, at most `window.limit`. */
  async deletedOwned(ownerId: string, window: ChangeWindow): Promise<DeletedTask[]> {
    const rows = await this.select<{ task_id: number; change_xid: string }>(
      `SELECT task_id, change_xid FROM task_tombstone
       WHERE user_id = $1 AND ${changeWindowSql('task_id', window)}
       ORDER BY change_xid, task_id LIMIT $5`,
      changeWindowParams(ownerId, window),
    );
    return rows.map((row) => ({ taskId: row.task_id, changeXid: row.change_xid }));
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
