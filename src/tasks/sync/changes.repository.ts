import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, EntityMetadata, Raw, Repository } from 'typeorm';
import { columnList, rowMapper, slots, Statement, statementsOf } from '../../database/statement';
import { TaskEntity } from '../task.entity';
import { ChangesPass } from './changes-cursor';
import { TaskTombstoneEntity } from './task-tombstone.entity';

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

type WindowValues = 'ownerId' | 'upto' | 'afterXid' | 'afterId' | 'limit' | 'since';

/**
 * The changes feed's tables: the window queries over `task` and `task_tombstone`, and the
 * tombstones themselves. Snapshot arithmetic is beyond TypeORM's builders, so these statements
 * are SQL built from the entities' metadata. Every statement sent is in
 * queries/changes.repository.sql.
 */
@Injectable()
export class ChangesRepository {
  private readonly statements: ChangesStatements;

  constructor(
    @InjectRepository(TaskTombstoneEntity)
    private readonly tombstones: Repository<TaskTombstoneEntity>,
    @InjectRepository(TaskEntity) tasks: Repository<TaskEntity>,
  ) {
    this.statements = statementsOf(
      tombstones,
      (repository) => new ChangesStatements(tasks.metadata, repository),
    );
  }

  /** This repository inside the transaction `tx` (see Transactions). */
  in(tx: EntityManager): ChangesRepository {
    const tombstones = tx.getRepository(TaskTombstoneEntity);
    return new ChangesRepository(tombstones, tx.getRepository(TaskEntity));
  }

  private get manager(): EntityManager {
    return this.tombstones.manager;
  }

  /** The snapshot a changes pass reads up to (`xmin:xmax:xip,…`). */
  async currentSnapshot(): Promise<string> {
    const [{ snapshot }] = await this.statements.snapshot.rows<{ snapshot: string }>(
      this.manager,
      {},
    );
    return snapshot;
  }

  /**
   * The owner's tasks changed in the window, in feed order, at most `window.limit`. `change_xid`
   * stays a bigint in SQL (an alias cast to text would make ORDER BY sort '1000' before '999',
   * skipping rows at a page boundary, and miss the index); `pg` hands bigints over as strings.
   */
  async changedOwned(ownerId: string, window: ChangeWindow): Promise<ChangedTask[]> {
    const statement = this.statements.changed[window.since === undefined ? 0 : 1];
    const rows = await statement.rows<{ change_xid: string }>(this.manager, {
      ...window,
      ownerId,
      since: window.since,
    });
    return rows.map((row) => ({ task: this.statements.toTask(row), changeXid: row.change_xid }));
  }

  /** The owner's deletions in the window, in feed order, at most `window.limit`. */
  async deletedOwned(ownerId: string, window: ChangeWindow): Promise<DeletedTask[]> {
    const statement = this.statements.deleted[window.since === undefined ? 0 : 1];
    const rows = await statement.rows<{ task_id: number; change_xid: string }>(this.manager, {
      ...window,
      ownerId,
      since: window.since,
    });
    return rows.map((row) => ({ taskId: row.task_id, changeXid: row.change_xid }));
  }

  /** Remembers the owner's deleted tasks, in the deleting transaction. */
  async rememberDeletedOwned(ownerId: string, ids: number[]): Promise<void> {
    if (ids.length > 0) await this.statements.remember.rows(this.manager, { ownerId, ids });
  }

  /** Housekeeping, across owners: forgets deletions older than `days`. */
  async purgeExpired(days: number): Promise<void> {
    await this.statements.purge.rows(this.manager, { days });
  }
}

class ChangesStatements {
  readonly toTask: (row: object) => TaskEntity;
  readonly snapshot: Statement<never>;
  /** [without since, with since] */
  readonly changed: [Statement<WindowValues>, Statement<WindowValues>];
  readonly deleted: [Statement<WindowValues>, Statement<WindowValues>];
  readonly remember: Statement<'ownerId' | 'ids'>;
  readonly purge: Statement<'days'>;

  constructor(task: EntityMetadata, tombstones: Repository<TaskTombstoneEntity>) {
    const tombstone = tombstones.metadata;
    this.toTask = rowMapper(task);
    this.snapshot = Statement.raw('SELECT pg_current_snapshot()::text AS snapshot', []);
    const t = names(task);
    const d = names(tombstone);
    const both = <T>(make: (since: boolean) => T): [T, T] => [make(false), make(true)];
    this.changed = both((since) =>
      window(
        `SELECT ${columnList(task)}, ${t.changeXid} FROM ${t.table}`,
        t.userId,
        t.changeXid,
        t.id,
        since,
      ),
    );
    this.deleted = both((since) =>
      window(
        `SELECT ${d.taskId}, ${d.changeXid} FROM ${d.table}`,
        d.userId,
        d.changeXid,
        d.taskId,
        since,
      ),
    );
    this.remember = Statement.raw(
      `INSERT INTO ${d.table} (${d.taskId}, ${d.userId}) SELECT unnest($2::int[]), $1`,
      ['ownerId', 'ids'],
    );
    this.purge = Statement.build(
      tombstones
        .createQueryBuilder()
        .delete()
        .where({
          deletedAt: Raw((at) => `${at} < now() - make_interval(days => :days)`, slots('days')),
        }),
    );
  }
}

/** The table and its columns by property name, quoted, from the metadata. */
function names(metadata: EntityMetadata): Record<string, string> & { table: string } {
  return {
    ...Object.fromEntries(
      metadata.columns.map((column) => [column.propertyName, `"${column.databaseName}"`]),
    ),
    table: `"${metadata.tableName}"`,
  };
}

/**
 * A change is in the window when the snapshot `upto` sees its transaction, `since` (if any) did
 * not, and it comes after the last one sent; in feed order, at most `limit`.
 */
function window(
  select: string,
  userId: string,
  changeXid: string,
  id: string,
  since: boolean,
): Statement<WindowValues> {
  const seenBy = (snapshot: string) =>
    `pg_visible_in_snapshot(${changeXid}::text::xid8, ${snapshot}::pg_snapshot)`;
  const conditions = [
    `${userId} = $1`,
    `(${changeXid}, ${id}) > ($3::bigint, $4::int)`,
    `${changeXid} < pg_snapshot_xmax($2::pg_snapshot)::text::bigint`,
    seenBy('$2'),
    ...(since
      ? [`${changeXid} >= pg_snapshot_xmin($6::pg_snapshot)::text::bigint`, `NOT ${seenBy('$6')}`]
      : []),
  ];
  const names: WindowValues[] = ['ownerId', 'upto', 'afterXid', 'afterId', 'limit'];
  return Statement.raw(
    `${select}\nWHERE ${conditions.join('\n  AND ')}\nORDER BY ${changeXid}, ${id} LIMIT $5`,
    since ? [...names, 'since'] : names,
  );
}
