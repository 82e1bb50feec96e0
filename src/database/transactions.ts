import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { sqlState } from '../common/sql-state';
import { databaseConfig, DatabaseConfig } from '../config/configuration';
import { SessionLimits, setLocalLimitsSql } from './connection-guard';

/** SQLSTATEs after which running the whole transaction again is safe and usually succeeds. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const ATTEMPTS = 3;

export interface TransactionOptions {
  /** `REPEATABLE READ`: one snapshot for every statement (the changes feed). */
  isolation?: 'REPEATABLE READ';
}

/**
 * Runs `work` in one transaction that either commits before this resolves or is rolled back.
 * Its first message sets the database's own limits for this transaction (`SET LOCAL`, which a
 * transaction-mode pooler passes through), so a statement that runs too long is cancelled by
 * PostgreSQL and the transaction ends cleanly; a connection whose state is left unknown is
 * destroyed on release (see GuardedClient). Serialization failures and deadlocks run it again.
 */
export async function inTransaction<T>(
  dataSource: DataSource,
  limits: SessionLimits,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const setup = [
    options.isolation && `SET TRANSACTION ISOLATION LEVEL ${options.isolation}`,
    setLocalLimitsSql(limits),
  ]
    .filter(Boolean)
    .join('; ');
  for (let attempt = 1; ; attempt++) {
    try {
      return await dataSource.transaction(async (manager) => {
        await manager.query(setup);
        return work(manager);
      });
    } catch (error) {
      if (attempt >= ATTEMPTS || !RETRYABLE.has(sqlState(error) ?? '')) throw error;
    }
  }
}

/**
 * {@link inTransaction} for the app's data source and limits. Repositories bind to the manager
 * it hands over (`in(tx)`), so several units' writes share one transaction.
 */
@Injectable()
export class Transactions {
  private readonly limits: SessionLimits;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) { limits }: DatabaseConfig,
  ) {
    this.limits = limits;
  }

  run<T>(work: (tx: EntityManager) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return inTransaction(this.dataSource, this.limits, work, options);
  }
}
