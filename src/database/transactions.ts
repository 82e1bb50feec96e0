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
  // One simple-protocol message opens the transaction and sets its limits: one round trip.
  const begin = ['START TRANSACTION', options.isolation && `ISOLATION LEVEL ${options.isolation}`]
    .filter(Boolean)
    .join(' ');
  const opening = `${begin}; ${setLocalLimitsSql(limits)}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(dataSource, opening, work);
    } catch (error) {
      if (attempt >= ATTEMPTS || !RETRYABLE.has(sqlState(error) ?? '')) throw error;
    }
  }
}

/**
 * One attempt, on a query runner of its own: what `DataSource.transaction` does, with the
 * transaction opened by `opening` (so `START TRANSACTION` and the `SET LOCAL` limits share a
 * round trip) instead of a `START TRANSACTION` of its own followed by ours. A rollback that
 * fails leaves the connection inside the transaction, and GuardedClient then destroys it on
 * release.
 */
async function once<T>(
  dataSource: DataSource,
  opening: string,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query(opening);
    let result: T;
    try {
      result = await work(runner.manager);
    } catch (error) {
      await runner.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    await runner.query('COMMIT');
    return result;
  } finally {
    await runner.release();
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
