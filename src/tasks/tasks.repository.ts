import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Equal, Raw, Repository, SelectQueryBuilder } from 'typeorm';
import { columnList, rowMapper, slots, Statement, statementsOf } from '../database/statement';
import { NewTask, TaskEntity, TaskPatch } from './task.entity';
import { TaskListFilter, TaskStats } from './task.types';

type ListValues = Record<string, unknown>;

const ORDER: Record<TaskListFilter['sort'], [string, 'NULLS LAST'?]> = {
  created_at: ['task.createdAt'],
  updated_at: ['task.updatedAt'],
  // Tasks without a due date come last in both directions.
  due_date: ['task.dueDate', 'NULLS LAST'],
  priority: ['task.priority'],
  title: ['lower(task.title)'],
};

/** `%` and `_` in a search are literal characters. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The task table, and only it. A thin layer over TypeORM's `Repository<TaskEntity>`: every
 * method takes the owner's id and keeps it in the query, so a query that forgets whose tasks it
 * touches cannot be written by accident. Column names and row mapping come from the entity's
 * metadata. Each statement is built once per shape (query builder, or metadata where TypeORM has
 * no builder) and reused: no query builder per request, and reads go out as named statements.
 * Every statement sent is in queries/tasks.repository.sql.
 */
@Injectable()
export class TasksRepository {
  private readonly toTask: (row: object) => TaskEntity;
  private readonly statements: TaskStatements;

  constructor(@InjectRepository(TaskEntity) private readonly repository: Repository<TaskEntity>) {
    this.statements = statementsOf(repository, (r) => new TaskStatements(r));
    this.toTask = this.statements.toTask;
  }

  /** This repository inside the transaction `tx` (see Transactions). */
  in(tx: EntityManager): TasksRepository {
    return new TasksRepository(tx.getRepository(TaskEntity));
  }

  private get manager(): EntityManager {
    return this.repository.manager;
  }

  async listOwned(
    ownerId: string,
    filter: TaskListFilter,
  ): Promise<{ tasks: TaskEntity[]; total: number }> {
    const { page, count } = this.statements.list(filter);
    const values: ListValues = {
      ownerId,
      completed: filter.status === 'completed',
      priorities: filter.priorities,
      tags: filter.tags,
      dueBefore: filter.dueBefore,
      dueAfter: filter.dueAfter,
      updatedSince: filter.updatedSince,
      search: filter.search && `%${escapeLike(filter.search)}%`,
      limit: filter.limit,
      offset: filter.offset,
    };
    const tasks = (await page.rows(this.manager, values)).map(this.toTask);
    // A page that is not full ends the list, so it tells the total. Only a full page (or one past
    // the end) needs a count, which PostgreSQL answers from the index without the rows' columns.
    const endsHere = tasks.length < filter.limit && (tasks.length > 0 || filter.offset === 0);
    if (endsHere) return { tasks, total: filter.offset + tasks.length };
    const [{ count: total }] = await count.rows<{ count: number }>(this.manager, values);
    return { tasks, total };
  }

  async findOwned(ownerId: string, id: number): Promise<TaskEntity | null> {
    const [row] = await this.statements.find.rows(this.manager, { ownerId, id });
    return row ? this.toTask(row) : null;
  }

  /** The row, locked until the transaction ends: concurrent writers of the task queue up. */
  async lockOwned(ownerId: string, id: number): Promise<TaskEntity | null> {
    const [row] = await this.statements.lock.rows(this.manager, { ownerId, id });
    return row ? this.toTask(row) : null;
  }

  async lockManyOwned(ownerId: string, ids: number[]): Promise<TaskEntity[]> {
    return (await this.statements.lockMany.rows(this.manager, { ownerId, ids })).map(this.toTask);
  }

  /**
   * Inserts the task, unless its owner already holds `below` tasks or more (counted in the same
   * statement, at most `below` index entries read): then null. The count sees the statement's
   * snapshot, so it is exact only where creates of one owner are serialised ({@link lockTaskQuota}).
   */
  async createOwned(ownerId: string, task: NewTask, below: number): Promise<TaskEntity | null> {
    const values = { nextTaskId: null, ...task, userId: ownerId, below };
    const [row] = await this.statements.create.rows(this.manager, values);
    return row ? this.toTask(row) : null;
  }

  /**
   * Serialises the creates of one owner until this transaction ends (an advisory lock on the
   * owner's id), so the count in {@link createOwned} sees every task committed before it.
   */
  async lockTaskQuota(ownerId: string): Promise<void> {
    await this.statements.quotaLock.rows(this.manager, { ownerId });
  }

  /** Applies `patch` in one statement and returns the row as it is afterwards. */
  async updateOwned(ownerId: string, id: number, patch: TaskPatch): Promise<TaskEntity | null> {
    const update = this.statements.update(patch);
    const [row] = await update.rows(this.manager, { ...patch, ownerId, id });
    return row ? this.toTask(row) : null;
  }

  /** Deletes the owner's tasks among `ids`; returns the ids deleted. */
  async deleteOwned(ownerId: string, ids: number[]): Promise<number[]> {
    const rows = await this.statements.delete.rows<{ id: number }>(this.manager, { ownerId, ids });
    return rows.map((row) => row.id);
  }

  async deleteCompletedOwned(ownerId: string): Promise<number[]> {
    const rows = await this.statements.deleteCompleted.rows<{ id: number }>(this.manager, {
      ownerId,
    });
    return rows.map((row) => row.id);
  }

  async statsOwned(ownerId: string): Promise<TaskStats> {
    const [stats] = await this.statements.stats.rows<TaskStats>(this.manager, { ownerId });
    return stats;
  }
}

/**
 * The task table's statements, each built once (per filter shape, per set of patched fields)
 * and shared by every TasksRepository of the process, transaction-bound ones included.
 */
export class TaskStatements {
  readonly toTask: (row: object) => TaskEntity;
  readonly find: Statement<'ownerId' | 'id'>;
  readonly lock: Statement<'ownerId' | 'id'>;
  readonly lockMany: Statement<'ownerId' | 'ids'>;
  readonly create: Statement;
  readonly quotaLock: Statement<'ownerId'>;
  readonly delete: Statement<'ownerId' | 'ids'>;
  readonly deleteCompleted: Statement<'ownerId'>;
  readonly stats: Statement<'ownerId'>;
  private readonly lists = new Map<string, { page: Statement; count: Statement }>();
  private readonly updates = new Map<string, Statement>();

  constructor(private readonly repository: Repository<TaskEntity>) {
    const { metadata } = repository;
    this.toTask = rowMapper<TaskEntity>(metadata);
    const one = () => this.select().where('task.id = :id AND task.userId = :ownerId');
    this.find = Statement.build(one().setParameters(slots('id', 'ownerId')));
    this.lock = Statement.build(
      one().setLock('pessimistic_write').setParameters(slots('id', 'ownerId')),
    );
    this.lockMany = Statement.build(
      this.select()
        .where('task.userId = :ownerId AND task.id = ANY(:ids::int[])')
        .orderBy('task.id')
        .setLock('pessimistic_write')
        .setParameters(slots('ownerId', 'ids')),
    );
    this.create = createWithinQuota(repository);
    this.quotaLock = Statement.raw(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7071))`, [
      'ownerId',
    ]);
    // UPDATE and DELETE builders name columns only through object conditions.
    const s = slots('ownerId', 'ids');
    const deleting = () => repository.createQueryBuilder().delete().returning('id');
    this.delete = Statement.build(
      deleting().where({
        userId: Equal(s.ownerId),
        id: Raw((id) => `${id} = ANY(:ids::int[])`, { ids: s.ids }),
      }),
    );
    this.deleteCompleted = Statement.build(
      deleting().where({ userId: Equal(s.ownerId), completed: Raw((completed) => completed) }),
    );
    const dueToday = `task.dueDate >= date_trunc('day', now(), 'UTC')
      AND task.dueDate < date_trunc('day', now(), 'UTC') + interval '1 day'`;
    this.stats = Statement.build(
      repository
        .createQueryBuilder('task')
        .select('count(*)::int', 'total')
        .addSelect('count(*) FILTER (WHERE task.completed)::int', 'completed')
        .addSelect('count(*) FILTER (WHERE NOT task.completed)::int', 'pending')
        .addSelect(
          'count(*) FILTER (WHERE NOT task.completed AND task.dueDate < now())::int',
          'overdue',
        )
        .addSelect(`count(*) FILTER (WHERE NOT task.completed AND ${dueToday})::int`, 'due_today')
        .where('task.userId = :ownerId')
        .setParameters(slots('ownerId')),
    );
  }

  /** Every selectable column, named as in the table (so {@link toTask} maps it). */
  private select(): SelectQueryBuilder<TaskEntity> {
    const query = this.repository.createQueryBuilder('task').select([]);
    for (const column of this.repository.metadata.columns.filter((c) => c.isSelect)) {
      query.addSelect(`task.${column.propertyPath}`, column.databaseName);
    }
    return query;
  }

  /** The page and count statements of one filter shape (which filters are set, sort, order). */
  list(filter: TaskListFilter): { page: Statement; count: Statement } {
    const shape = [
      filter.status,
      !!filter.priorities?.length,
      !!filter.tags?.length,
      !!filter.dueBefore,
      !!filter.dueAfter,
      filter.overdue,
      !!filter.updatedSince,
      !!filter.search,
      filter.sort,
      filter.order,
    ].join('|');
    let statements = this.lists.get(shape);
    if (!statements) {
      const where = (query: SelectQueryBuilder<TaskEntity>) => {
        const names = ['ownerId'];
        const and = (condition: string, ...params: string[]) => {
          query.andWhere(condition);
          names.push(...params);
        };
        query.where('task.userId = :ownerId');
        if (filter.status !== 'all') and('task.completed = :completed', 'completed');
        if (filter.priorities?.length)
          and('task.priority = ANY(:priorities::smallint[])', 'priorities');
        if (filter.tags?.length) {
          and(
            'EXISTS (SELECT 1 FROM unnest(task.tags) AS tag WHERE lower(tag) = ANY(:tags::text[]))',
            'tags',
          );
        }
        if (filter.dueBefore) and('task.dueDate < :dueBefore', 'dueBefore');
        if (filter.dueAfter) and('task.dueDate > :dueAfter', 'dueAfter');
        if (filter.overdue === true) and('NOT task.completed AND task.dueDate < now()');
        if (filter.overdue === false)
          and('(task.completed OR task.dueDate IS NULL OR task.dueDate >= now())');
        if (filter.updatedSince) and('task.updatedAt > :updatedSince', 'updatedSince');
        if (filter.search)
          and('(task.title ILIKE :search OR task.description ILIKE :search)', 'search');
        return query.setParameters(slots(...names));
      };
      const direction = filter.order === 'asc' ? 'ASC' : 'DESC';
      const [sort, nulls] = ORDER[filter.sort];
      const page = where(this.select())
        .orderBy(sort, direction, nulls)
        .addOrderBy('task.id', direction);
      const count = where(
        this.repository.createQueryBuilder('task').select('count(*)::int', 'count'),
      );
      statements = {
        page: Statement.build(page).append('LIMIT :limit OFFSET :offset', ['limit', 'offset']),
        count: Statement.build(count),
      };
      this.lists.set(shape, statements);
    }
    return statements;
  }

  /** The UPDATE … RETURNING for the set of fields `patch` writes. */
  update(patch: TaskPatch): Statement {
    const { metadata } = this.repository;
    const fields = Object.keys(patch)
      .filter((key) => metadata.findColumnWithPropertyName(key)?.isUpdate)
      .sort();
    const shape = fields.join(',');
    let statement = this.updates.get(shape);
    if (!statement) {
      const s = slots('id', 'ownerId');
      statement = Statement.build(
        this.repository
          .createQueryBuilder()
          .update()
          .set(Object.fromEntries(fields.map((field) => [field, () => `:${field}`])))
          .where({ id: Equal(s.id), userId: Equal(s.ownerId) })
          .returning(columnList(metadata))
          .setParameters(slots(...fields)),
      );
      this.updates.set(shape, statement);
    }
    return statement;
  }
}

/**
 * INSERT … SELECT … WHERE the owner is under the quota: one statement that TypeORM's builders
 * cannot express, so it is built from the entity's metadata: every column a client or the
 * service writes (not generated, not database-set), each cast to its column type because a
 * SELECT list gives PostgreSQL no target type to infer.
 */
function createWithinQuota(repository: Repository<TaskEntity>): Statement {
  const { metadata, manager } = repository;
  const driver = manager.connection.driver;
  const columns = metadata.columns.filter(
    (column) =>
      column.isInsert && !column.isGenerated && !column.isCreateDate && !column.isUpdateDate,
  );
  const owner = columns.findIndex((column) => column.propertyName === 'userId');
  const values = columns.map(
    (column, i) => `$${i + 1}::${driver.normalizeType(column)}${column.isArray ? '[]' : ''}`,
  );
  const below = `$${columns.length + 1}`;
  return Statement.raw(
    `INSERT INTO "${metadata.tableName}" (${columns.map((c) => `"${c.databaseName}"`).join(', ')})
SELECT ${values.join(', ')}
WHERE (SELECT count(*) FROM (SELECT 1 FROM "${metadata.tableName}" WHERE "${columns[owner].databaseName}" = $${owner + 1} LIMIT ${below}) owned) < ${below}
RETURNING ${columnList(metadata)}`,
    [...columns.map((column) => column.propertyName), 'below'],
  );
}
