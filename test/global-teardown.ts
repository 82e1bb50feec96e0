import { rmSync } from 'node:fs';
import { TestResources } from './support/resources';
import { stopPostgresAt } from './support/postgres-control';

export default async function globalTeardown(): Promise<void> {
  const resources = (globalThis as { __E2E__?: TestResources }).__E2E__;
  if (!resources) return;
  await resources.auth.close();
  await resources.sessionAuth.close();
  await resources.pgbouncer.stop();
  await resources.redis.stop();
  await resources.database.stop();
  // The outage suite may have restarted this one itself: stop whatever runs on its data folder.
  await stopPostgresAt(resources.outageDatabase.dataDir);
  rmSync(resources.root, { recursive: true, force: true });
}
