import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Equal, Raw, Repository } from 'typeorm';
import { rowMapper, slots, Statement, statementsOf } from '../../database/statement';
import { IdempotencyKeyEntity } from './idempotency-key.entity';

/** A stored reply, as far as the request that claimed the key got. */
export type StoredReply = Pick<
  IdempotencyKeyEntity,
  'requestHash' | 'responseStatus' | 'responseBody' | 'responseEtag'
>;

/** The `idempotency_key` table. Every statement sent is in queries/idempotency.repository.sql. */
@Injectable()
export class IdempotencyRepository {
  private readonly statements: IdempotencyStatements;

  constructor(
    @InjectRepository(IdempotencyKeyEntity)
    private readonly repository: Repository<IdempotencyKeyEntity>,
  ) {
    this.statements = statementsOf(repository, (r) => new IdempotencyStatements(r));
  }

  /** This repository inside the transaction `tx` (see Transactions). */
  in(tx: EntityManager): IdempotencyRepository {
    return new IdempotencyRepository(tx.getRepository(IdempotencyKeyEntity));
  }

  /**
   * Claims `key` for this transaction: true when it was free (or older than 24 h). A concurrent
   * claim of the same key waits for ours to finish (primary key), then finds it taken.
   */
  async claimOwned(ownerId: string, key: string, requestHash: string): Promise<boolean> {
    const manager = this.repository.manager;
    return (await this.statements.claim.rows(manager, { ownerId, key, requestHash })).length > 0;
  }

  async findOwned(ownerId: string, key: string): Promise<StoredReply | null> {
    const [row] = await this.statements.find.rows(this.repository.manager, { ownerId, key });
    return row ? this.statements.toKey(row) : null;
  }

  async storeReplyOwned(
    ownerId: string,
    key: string,
    reply: { status: number; body: unknown; etag?: string },
  ): Promise<void> {
    await this.statements.store.rows(this.repository.manager, {
      ownerId,
      key,
      status: reply.status,
      body: JSON.stringify(reply.body),
      etag: reply.etag ?? null,
    });
  }

  /** Housekeeping, across owners: forgets keys older than `hours`. */
  async purgeExpired(hours: number): Promise<void> {
    await this.statements.purge.rows(this.repository.manager, { hours });
  }
}

class IdempotencyStatements {
  readonly toKey: (row: object) => IdempotencyKeyEntity;
  readonly claim: Statement;
  readonly find: Statement<'ownerId' | 'key'>;
  readonly store: Statement;
  readonly purge: Statement<'hours'>;

  constructor(repository: Repository<IdempotencyKeyEntity>) {
    const { metadata } = repository;
    this.toKey = rowMapper(metadata);
    const column = (property: keyof IdempotencyKeyEntity) =>
      `"${metadata.findColumnWithPropertyName(property)!.databaseName}"`;
    const [table, userId, key, createdAt] = [
      `"${metadata.tableName}"`,
      column('userId'),
      column('key'),
      column('createdAt'),
    ];
    // An upsert whose update is conditional: beyond TypeORM's builders.
    this.claim = Statement.raw(
      `INSERT INTO ${table} (${userId}, ${key}, ${column('requestHash')}) VALUES ($1, $2, $3)
ON CONFLICT (${userId}, ${key}) DO UPDATE
  SET ${column('requestHash')} = EXCLUDED.${column('requestHash')}, ${column('responseStatus')} = NULL,
      ${column('responseBody')} = NULL, ${column('responseEtag')} = NULL, ${createdAt} = now()
  WHERE ${table}.${createdAt} < now() - interval '24 hours'
RETURNING ${key}`,
      ['ownerId', 'key', 'requestHash'],
    );
    const select = repository.createQueryBuilder('idempotency').select([]);
    for (const c of metadata.columns)
      select.addSelect(`idempotency.${c.propertyPath}`, c.databaseName);
    this.find = Statement.build(
      select
        .where('idempotency.userId = :ownerId AND idempotency.key = :key')
        .setParameters(slots('ownerId', 'key')),
    );
    const s = slots('ownerId', 'key', 'hours');
    this.store = Statement.build(
      repository
        .createQueryBuilder()
        .update()
        .set({
          responseStatus: () => ':status',
          responseBody: () => ':body',
          responseEtag: () => ':etag',
        })
        .where({ userId: Equal(s.ownerId), key: Equal(s.key) })
        .setParameters(slots('status', 'body', 'etag')),
    );
    this.purge = Statement.build(
      repository
        .createQueryBuilder()
        .delete()
        .where({
          createdAt: Raw((at) => `${at} < now() - make_interval(hours => :hours)`, {
            hours: s.hours,
          }),
        }),
    );
  }
}
