import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { sqlState } from '../common/sql-state';

/** Limits PostgreSQL enforces itself (milliseconds; 0 = none). */
export interface SessionLimits {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/**
 * The limits as one simple-protocol message, sent at the start of every transaction. `SET LOCAL`
 * is what reaches the right server connection through a transaction-mode pooler (PgBouncer,
 * Supavisor, Neon's): there a startup parameter may be refused, and a session `SET` lands on
 * whichever server connection served it and stays there for other clients (seen in the e2e
 * pooler run: a lock holder of the tests was killed by the API's idle-in-transaction limit).
 */
export function setLocalLimitsSql(limits: SessionLimits): string {
  const ms = (value: number) => {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad timeout ${value}`);
    return value;
  };
  return [
    `SET LOCAL statement_timeout = ${ms(limits.statementTimeoutMs)}`,
    `SET LOCAL lock_timeout = ${ms(limits.lockTimeoutMs)}`,
    `SET LOCAL idle_in_transaction_session_timeout = ${ms(limits.idleInTransactionTimeoutMs)}`,
  ].join('; ');
}

type Release = (error?: Error | boolean) => void;

/** Statement texts the repositories declare, each with a stable name (see GuardedClient). */
const statementNames = new Map<string, string>();

/**
 * Declares a statement the repositories send often: outside a transaction it goes out as a named
 * (prepared) statement, which PostgreSQL parses and plans once per connection.
 */
export function registerStatement(sql: string): void {
  if (!statementNames.has(sql)) {
    statementNames.set(sql, `s_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`);
  }
}

/**
 * Named statements work on a direct connection and through poolers that keep them (PgBouncer
 * 1.21+ with max_prepared_statements, Neon's). A transaction-mode pooler without that answers
 * "prepared statement … does not exist / already exists": then this process switches to unnamed
 * statements for good, says so once, and the statement is sent again.
 */
const PREPARED_STATEMENT_REFUSED = new Set(['26000', '42P05']);

/** What the pool hands every client besides pg's own settings (`extra` of the data source). */
export interface GuardedClientConfig {
  /** DATABASE_PREPARED_STATEMENTS: false starts with unnamed statements. */
  preparedStatements?: boolean;
}

/**
 * A `pg` client that the pool never hands to another request in a state it could inherit. On
 * its way back to the pool a client that is still inside a transaction (ReadyForQuery said `T`
 * or `E`: a ROLLBACK that timed out or was never sent) or whose statement outlived the
 * client-side `query_timeout` (the server may still be running it) is released with an error,
 * which makes pg-pool destroy it instead of keeping it. Without this, a later autocommit write
 * would run inside the abandoned transaction, be acknowledged, and vanish when the connection
 * closes.
 *
 * pg-pool gives each checkout its own `client.release`; the accessor below wraps the one it sets.
 */
export class GuardedClient extends Client {
  private static readonly logger = new Logger('Database');
  /** Shared by every client of the process: one refusal is enough to know the pooler. */
  private static namedStatements = true;
  private readonly preparedStatements: boolean;
  private poolRelease?: Release;
  private unsafe?: string;

  constructor(config?: ConstructorParameters<typeof Client>[0] & GuardedClientConfig) {
    super(config);
    this.preparedStatements = config?.preparedStatements ?? true;
    // pg-pool and TypeORM listen for 'error' only at times (pg-pool's query() with `once`); a
    // connection dropped by a stopping server can emit it between their listeners, and an
    // 'error' nobody listens to crashes the process (seen in the fault drill's outage). This
    // listener is always there; the connection is then never reused.
    this.on('error', () => {
      this.unsafe ??= 'its connection failed';
    });
  }

  // Arrow functions assigned in the constructor would shadow the accessor: keep them methods.
  override query(...args: unknown[]): never {
    const named = this.named(args);
    if (named) return named as never;
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (error: unknown, result: unknown) => {
        this.inspect(error);
        (callback as (error: unknown, result: unknown) => void)(error, result);
      };
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (result instanceof Promise) result.catch((error: unknown) => this.inspect(error));
    return result as never;
  }

  set release(release: Release) {
    this.poolRelease = release;
  }

  get release(): Release {
    return (error) => {
      const reason =
        this.unsafe ??
        (['T', 'E'].includes(this.getTransactionStatus() ?? '')
          ? 'it was left inside a transaction'
          : undefined);
      if (reason && !error) {
        GuardedClient.logger.warn(`Discarding a database connection: ${reason}`);
        this.unsafe = reason;
      }
      this.poolRelease?.(
        error || (reason ? new Error(`connection discarded: ${reason}`) : undefined),
      );
    };
  }

  /**
   * A declared statement (text and values, the promise form TypeORM uses) sent outside a
   * transaction goes out named. Inside one it stays unnamed: a refusal there would abort the
   * transaction, whereas an autocommit statement that was refused can simply be sent again.
   */
  private named(args: unknown[]): Promise<unknown> | undefined {
    const [text, values] = args;
    if (args.length > 2 || typeof text !== 'string') return undefined;
    const name = statementNames.get(text);
    if (!name || !this.preparedStatements || !GuardedClient.namedStatements) return undefined;
    if (this.getTransactionStatus() !== 'I') return undefined;
    const send = (config: object) =>
      (super.query as (config: object) => Promise<unknown>)(config).catch((error: unknown) => {
        this.inspect(error);
        throw error;
      });
    return send({ name, text, values }).catch((error: unknown) => {
      if (!PREPARED_STATEMENT_REFUSED.has(sqlState(error) ?? '')) throw error;
      if (GuardedClient.namedStatements) {
        GuardedClient.namedStatements = false;
        GuardedClient.logger.warn(
          'The database (or a pooler in front of it) refused a named prepared statement: ' +
            'using unnamed statements from now on. Set DATABASE_PREPARED_STATEMENTS=false ' +
            'to start that way.',
        );
      }
      return send({ text, values });
    });
  }

  private inspect(error: unknown): void {
    if (error instanceof Error && error.message === 'Query read timeout') {
      this.unsafe ??= 'a statement outlived the client-side timeout';
    }
  }
}
