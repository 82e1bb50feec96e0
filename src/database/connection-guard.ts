import { Logger } from '@nestjs/common';
import { Client } from 'pg';

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
  private poolRelease?: Release;
  private unsafe?: string;

  constructor(config?: ConstructorParameters<typeof Client>[0]) {
    super(config);
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

  private inspect(error: unknown): void {
    if (error instanceof Error && error.message === 'Query read timeout') {
      this.unsafe ??= 'a statement outlived the client-side timeout';
    }
  }
}
