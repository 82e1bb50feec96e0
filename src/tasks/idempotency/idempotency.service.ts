import { ConflictException, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { RequestValidationException } from '../../common/validation-error';
import { Transactions } from '../../database/transactions';
import { Reply } from '../reply';
import { IdempotencyRepository } from './idempotency.repository';

/** What identifies a request besides its key: a retry must repeat all of it. */
export interface IdempotentRequest<T> {
  operation: string;
  payload: object;
  /** The status the reply goes out with, stored for the replay. */
  status: number;
  /** The stored body as it is answered today (a setting that shapes it may have changed). */
  replayed?: (body: T) => T;
}

/** `Idempotency-Key`: claim, replay, store the reply. */
@Injectable()
export class IdempotencyService {
  constructor(
    private readonly keys: IdempotencyRepository,
    private readonly transactions: Transactions,
  ) {}

  /**
   * Runs `work` once per (user, key): a retry with the same body gets the stored reply, marked
   * replayed; the same key with another body is a client error. Either way `work` runs in one
   * transaction (`tx`), committed before the answer leaves.
   */
  async once<T>(
    ownerId: string,
    key: string | undefined,
    request: IdempotentRequest<T>,
    work: (tx: EntityManager) => Promise<Reply<T>>,
  ): Promise<Reply<T>> {
    if (key === undefined) return this.transactions.run(work);
    const requestHash = createHash('sha256')
      .update(`${request.operation}\n${stableJson(request.payload)}`)
      .digest('hex');
    return this.transactions.run(async (tx) => {
      const keys = this.keys.in(tx);
      if (!(await keys.claimOwned(ownerId, key, requestHash))) {
        const stored = await keys.findOwned(ownerId, key);
        if (stored?.requestHash !== requestHash) {
          throw RequestValidationException.single(
            ['header', 'Idempotency-Key'],
            'This Idempotency-Key was already used with a different request',
            'idempotency_key_reused',
          );
        }
        if (stored.responseStatus === null)
          throw new ConflictException('The original request is still running');
        const body = stored.responseBody as T;
        return {
          body: request.replayed ? request.replayed(body) : body,
          etag: stored.responseEtag ?? undefined,
          replayed: true,
        };
      }
      const reply = await work(tx);
      await keys.storeReplyOwned(ownerId, key, {
        status: request.status,
        body: reply.body,
        etag: reply.etag,
      });
      return reply;
    });
  }
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
