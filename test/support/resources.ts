import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import type { BetterAuthServer, SessionBetterAuthServer } from './better-auth-server';
import type { Pgbouncer } from './pgbouncer';
import type { RedisServer } from './redis-server';

/** What global setup started and global teardown stops (kept on globalThis between the two). */
export interface TestResources {
  root: string;
  database: EmbeddedPostgres;
  outageDatabase: EmbeddedPostgres;
  pgbouncer: Pgbouncer;
  auth: BetterAuthServer;
  sessionAuth: SessionBetterAuthServer;
  redis: RedisServer;
}
