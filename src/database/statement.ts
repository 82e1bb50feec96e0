import { EntityManager, EntityMetadata, ObjectLiteral, Repository } from 'typeorm';
import { registerStatement } from './connection-guard';

/** A named placeholder while a statement is built: its value arrives at each call. */
class Slot {
  constructor(readonly name: string) {}
}

/** The parameters a statement is built with: each one's value is a {@link Slot} of its name. */
export function slots<K extends string>(...names: K[]): Record<K, Slot> {
  return Object.fromEntries(names.map((name) => [name, new Slot(name)])) as Record<K, Slot>;
}

/** What TypeORM's query builders answer with (`getQueryAndParameters` is public). */
interface BuiltQuery {
  getQueryAndParameters(): [string, unknown[]];
}

/**
 * One statement's SQL, built once (by a query builder, or from entity metadata where TypeORM has
 * no builder for it) and sent many times with new values: no query builder per request, and a
 * text PostgreSQL can keep as a named statement (see {@link registerStatement}).
 */
export class Statement<K extends string = string> {
  private constructor(
    readonly sql: string,
    private readonly order: K[],
  ) {
    registerStatement(sql);
  }

  /** From a query builder whose parameters are all {@link slots}. */
  static build<K extends string>(query: BuiltQuery): Statement<K> {
    const [sql, parameters] = query.getQueryAndParameters();
    return new Statement(sql, parameters.map(slotName) as K[]);
  }

  /** SQL TypeORM cannot express, with `$n` placeholders for `names` in that order. */
  static raw<K extends string>(sql: string, names: K[]): Statement<K> {
    return new Statement(sql, names);
  }

  /** This statement with `suffix` appended; its `:name` placeholders become the next `$n`. */
  append<N extends string>(suffix: string, names: N[]): Statement<K | N> {
    let next = this.order.length;
    const sql = suffix.replace(/:(\w+)/g, (_match, name: string) => {
      if (!names.includes(name as N)) throw new Error(`unknown placeholder :${name}`);
      return `$${++next}`;
    });
    const added = [...suffix.matchAll(/:(\w+)/g)].map((match) => match[1] as N);
    return new Statement(`${this.sql} ${sql}`, [...this.order, ...added]);
  }

  /**
   * Runs it in `manager` (its transaction, if it has one) and returns the rows, for a SELECT or
   * a write with RETURNING alike (TypeORM's structured result: `records`).
   */
  async rows<R = ObjectLiteral>(manager: EntityManager, values: Record<K, unknown>): Promise<R[]> {
    const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
    try {
      const parameters = this.order.map((name) => values[name]);
      return (await runner.query(this.sql, parameters, true)).records as R[];
    } finally {
      if (!manager.queryRunner) await runner.release();
    }
  }
}

function slotName(parameter: unknown): string {
  if (!(parameter instanceof Slot)) throw new Error('a statement parameter must be a slot');
  return parameter.name;
}

/**
 * Row (column names) to entity (property names), for rows that come back raw (RETURNING, raw
 * selects). Derived from the entity's metadata, so a new column maps without an edit here.
 */
export function rowMapper<T>(metadata: EntityMetadata): (row: object) => T {
  const pairs = metadata.columns
    .filter((column) => column.isSelect)
    .map((column) => [column.databaseName, column.propertyName] as const);
  return (row) => {
    const entity: Record<string, unknown> = {};
    const source = row as Record<string, unknown>;
    for (const [column, property] of pairs) entity[property] = source[column];
    return entity as T;
  };
}

/** The entity's selectable columns, quoted, as a select or RETURNING list. */
export function columnList(metadata: EntityMetadata, alias?: string): string {
  return metadata.columns
    .filter((column) => column.isSelect)
    .map((column) => (alias ? `"${alias}"."${column.databaseName}"` : `"${column.databaseName}"`))
    .join(', ');
}

const built = new WeakMap<EntityMetadata, unknown>();

/**
 * A repository's statements, built once per entity and shared by every instance over it
 * (the injected one and those bound to a transaction).
 */
export function statementsOf<E extends ObjectLiteral, S>(
  repository: Repository<E>,
  build: (repository: Repository<E>) => S,
): S {
  let statements = built.get(repository.metadata) as S | undefined;
  if (statements === undefined) {
    statements = build(repository);
    built.set(repository.metadata, statements);
  }
  return statements;
}
