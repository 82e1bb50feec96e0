import { Logger } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { databaseConfig, DatabaseConfig } from '../src/config/configuration';
import { inTransaction } from '../src/database/transactions';
import { createTask, createTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

/**
 * Two API processes' worth of apps behind PgBouncer 1.18 in transaction mode (Neon's pooled
 * endpoint and most managed PostgreSQL look like this), with the default settings: named
 * prepared statements on. Each transaction may run on another server connection, so the pooler
 * answers "prepared statement … does not exist / already exists": never a 500 for that.
 */
describe('Behind a transaction-mode pooler (PgBouncer)', () => {
  const pooled = { DATABASE_URL: process.env.PGBOUNCER_DATABASE_URL };
  let apps: NestExpressApplication[];
  let warn: jest.SpyInstance;
  beforeAll(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn');
    apps = [await createTestApp(pooled), await createTestApp(pooled)];
  });
  afterAll(async () => {
    warn.mockRestore();
    await Promise.all(apps.map((app) => app.close()));
  });

  /** A user's usual session, against one app or the other at random. */
  async function session(user: TestUser): Promise<number[]> {
    const http = () => request(apps[Math.floor(Math.random() * apps.length)].getHttpServer());
    const statuses: number[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await http()
        .post('/api/tasks')
        .set(user.auth)
        .send({ title: `t${i}` });
      statuses.push(res.status);
      if (res.status === 201) ids.push((res.body as { id: number }).id);
    }
    for (const id of ids) {
      for (const call of [
        () => http().get('/api/tasks').set(user.auth),
        () => http().get(`/api/tasks/${id}`).set(user.auth),
        () => http().patch(`/api/tasks/${id}`).set(user.auth).send({ title: 'renamed' }),
        () => http().patch(`/api/tasks/${id}/complete`).set(user.auth),
        () => http().get('/api/tasks/changes').set(user.auth),
        () => http().get('/api/tasks/stats').set(user.auth),
      ]) {
        statuses.push((await call()).status);
      }
    }
    statuses.push((await http().delete(`/api/tasks/${ids[0]}`).set(user.auth)).status);
    return statuses;
  }

  it('should answer every request without a 5xx, switching to unnamed statements and saying so', async () => {
    const users = await Promise.all(Array.from({ length: 24 }, () => newUser()));
    const statuses = (await Promise.all(users.map(session))).flat();

    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(statuses.length).toBe(24 * (3 + 3 * 6 + 1));
    expect(warn.mock.calls.flat().join('\n')).toMatch(/refused a named prepared statement/);
  }, 30_000);

  it('should set the database limits inside each transaction through the pooler', async () => {
    const [app] = apps;
    const limits = {
      statementTimeoutMs: 1234,
      lockTimeoutMs: 567,
      idleInTransactionTimeoutMs: 8901,
    };
    const shown = await inTransaction(app.get(DataSource), limits, (manager) =>
      manager.query<{ [name: string]: string }[]>(
        'SELECT current_setting($1) AS s, current_setting($2) AS l, current_setting($3) AS i',
        ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'],
      ),
    );
    expect(shown).toEqual([{ s: '1234ms', l: '567ms', i: '8901ms' }]);
    expect(app.get<DatabaseConfig>(databaseConfig.KEY).limits.lockTimeoutMs).toBe(2000);
    // Outside the transaction nothing stays behind on the server connection.
    const [after] = await app
      .get(DataSource)
      .query<{ l: string }[]>(`SELECT current_setting('lock_timeout') AS l`);
    expect(after.l).not.toBe('567ms');
    const user = await newUser();
    await createTask(request(app.getHttpServer()), user, { title: 'still works' });
  });
});
