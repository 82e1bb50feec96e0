import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { isDatabaseUnavailable } from '../common/all-exceptions.filter';
import { Statement } from '../database/statement';
import { SessionLookup, SessionRecord, SessionToken } from './session-token';

/** A column by any of the names Better Auth's schemas give it: its own, then snake_case. */
const COLUMNS = {
  token: ['token'],
  userId: ['userId', 'user_id'],
  expiresAt: ['expiresAt', 'expires_at'],
} as const;

/**
 * Better Auth's `session` table, when the API shares Better Auth's database, read on the API's own
 * connection (DATABASE_URL): a signed-out session is a deleted row. Every statement sent is in
 * queries/session.repository.sql.
 *
 * Better Auth's own migrations name the columns `token`, `userId`, `expiresAt`; schemas written
 * for Drizzle or Prisma often say `user_id`, `expires_at`. Which ones the table has is read once
 * (at start-up, or at the first session token if the database was away then); a table that has
 * neither stops start-up with a message naming BETTER_AUTH_SESSION_TABLE.
 */
export class BetterAuthSessionRepository extends SessionLookup implements OnApplicationBootstrap {
  private readonly logger = new Logger('BetterAuthSessions');
  private readonly table: string;
  private readonly columnsOf: Statement<'table'>;
  private findByToken?: Promise<Statement<'token'>>;

  constructor(
    private readonly manager: EntityManager,
    private readonly tableName: string,
  ) {
    super();
    // Validated at boot: identifiers of letters, digits, `_` and `$`, quoted as they are written.
    this.table = tableName
      .split('.')
      .map((part) => `"${part}"`)
      .join('.');
    this.columnsOf = Statement.raw(
      `SELECT attname AS "name" FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
      ['table'],
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.statement();
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      this.logger.warn(`Cannot read ${this.tableName}'s columns yet: the database is away`);
    }
  }

  async find({ token }: SessionToken): Promise<SessionRecord | undefined> {
    const find = await this.statement();
    const [row] = await find.rows<{ userId: unknown; expiresAt: unknown }>(this.manager, { token });
    if (row === undefined) return undefined;
    const { userId, expiresAt } = row;
    // A userId that is not text (an integer key of a custom schema) is still an id.
    const id = typeof userId === 'string' || typeof userId === 'number' ? String(userId) : '';
    const expiry = expiresAt instanceof Date ? expiresAt : new Date(Number.NaN);
    return { userId: id, expiresAt: expiry };
  }

  private statement(): Promise<Statement<'token'>> {
    this.findByToken ??= this.build().catch((error: unknown) => {
      this.findByToken = undefined; // the next session token tries again
      throw error;
    });
    return this.findByToken;
  }

  private async build(): Promise<Statement<'token'>> {
    const rows = await this.columnsOf.rows<{ name: string }>(this.manager, { table: this.table });
    const present = new Set(rows.map((row) => row.name));
    const pick = (names: readonly string[]) => names.find((name) => present.has(name));
    const [token, userId, expiresAt] = [
      pick(COLUMNS.token),
      pick(COLUMNS.userId),
      pick(COLUMNS.expiresAt),
    ];
    if (!token || !userId || !expiresAt) {
      throw new Error(
        `BETTER_AUTH_SESSION_TABLE: no table ${this.tableName} with the columns token, ` +
          'userId (or user_id) and expiresAt (or expires_at) on DATABASE_URL',
      );
    }
    return Statement.raw(
      `SELECT "${userId}" AS "userId", "${expiresAt}" AS "expiresAt" FROM ${this.table} WHERE "${token}" = $1`,
      ['token'],
    );
  }
}
