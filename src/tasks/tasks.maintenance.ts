import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { IdempotencyRepository } from './idempotency/idempotency.repository';
import { ChangesRepository } from './sync/changes.repository';

const HOUR = 3_600_000;
/** The contract promises 30 days of deletions and 24 hours of keys: keep a margin beyond both. */
const TOMBSTONE_DAYS = 35;
const IDEMPOTENCY_HOURS = 48;

/** Hourly housekeeping. Several API processes may run it at once: the deletes are idempotent. */
@Injectable()
export class TasksMaintenance implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TasksMaintenance.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly tombstones: ChangesRepository,
    private readonly idempotencyKeys: IdempotencyRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.purge(), HOUR);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async purge(): Promise<void> {
    try {
      await this.tombstones.purgeExpired(TOMBSTONE_DAYS);
      await this.idempotencyKeys.purgeExpired(IDEMPOTENCY_HOURS);
    } catch (error) {
      this.logger.warn(`Purge skipped: ${error instanceof Error ? error.name : 'unknown error'}`);
    }
  }
}
