import fc from 'fast-check';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Pool } from 'pg';
import request from 'supertest';
import { GuardedClient } from '../src/database/connection-guard';
import { createTask, createTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

/**
 * A 2xx for a write means committed, whatever a slow statement does to the connection it ran on.
 * The danger: a statement inside a transaction that outlives the client-side timeout is
 * abandoned, its ROLLBACK never reaches the server, and the connection goes back to the pool
 * still inside the transaction, where later autocommit writes are acknowledged and then vanish.
 * Every check reads from a connection of its own, and again after the app (and its pool) closed.
 */
describe('Acknowledged writes under slow statements', () => {
  const url = process.env.DATABASE_URL as string;
  let outside: Pool;
  beforeAll(() => {
    outside = new Pool({ connectionString: url, max: 4 });
  });
  afterAll(() => outside.end());

  /** Holds a row lock on `taskId` from a connection of its own until `release()`. */
  async function lockTask(taskId: number): Promise<{ release(): Promise<void> }> {
    const blocker = await outside.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM task WHERE id = $1 FOR UPDATE', [taskId]);
    return {
      release: async () => {
        await blocker.query('ROLLBACK');
        blocker.release();
      },
    };
  }

  const committedIds = async (user: TestUser): Promise<number[]> =>
    (
      await outside.query<{ id: number }>('SELECT id FROM task WHERE user_id = $1 ORDER BY id', [
        user.id,
      ])
    ).rows.map((row) => row.id);

  describe('through the API, one pooled connection', () => {
    let app: NestExpressApplication;
    let http: ReturnType<typeof request>;
    beforeAll(async () => {
      app = await createTestApp({
        DATABASE_POOL_SIZE: '1',
        DATABASE_LOCK_TIMEOUT_MS: '300',
        DATABASE_STATEMENT_TIMEOUT_MS: '600',
        DATABASE_QUERY_TIMEOUT_MS: '1000',
        DATABASE_CONNECT_TIMEOUT_MS: '5000',
      });
      http = request(app.getHttpServer());
    });
    afterAll(() => app?.close());

    it("should keep other users' acknowledged creates and deletes after a write waited out every timeout", async () => {
      const owner = await newUser();
      const task = await createTask(http, owner, { title: 'locked elsewhere' });
      const lock = await lockTask(task.id);
      const blocked = await http
        .patch(`/api/tasks/${task.id}`)
        .set(owner.auth)
        .send({ title: 'waits' });
      await lock.release();
      expect(blocked.status).toBe(503);
      expect(blocked.headers['retry-after']).toBeDefined();

      const other = await newUser();
      const created: number[] = [];
      for (let i = 0; i < 6; i++)
        created.push((await createTask(http, other, { title: `t${i}` })).id);
      for (const id of created.slice(0, 2)) {
        await http.delete(`/api/tasks/${id}`).set(other.auth).expect(204);
      }
      await http.delete('/api/tasks?status=completed').set(other.auth).expect(200);

      expect(await committedIds(other)).toEqual(created.slice(2));
      const untouched = await outside.query('SELECT title FROM task WHERE id = $1', [task.id]);
      expect(untouched.rows).toEqual([{ title: 'locked elsewhere' }]);
      await app.close();
      expect(await committedIds(other)).toEqual(created.slice(2));
    });
  });

  describe('the pool itself', () => {
    it('should destroy a connection whose statement outlived the client-side timeout inside a transaction', async () => {
      // No server-side limit here: only the client's backstop fires, as on a broken network.
      const pool = new Pool({
        connectionString: url,
        max: 1,
        query_timeout: 300,
        Client: GuardedClient,
      });
      try {
        const client = await pool.connect();
        await client.query('BEGIN');
        await expect(client.query('SELECT pg_sleep(1.5)')).rejects.toThrow('Query read timeout');
        await expect(client.query('ROLLBACK')).rejects.toThrow('Query read timeout');
        client.release();

        const user = await newUser();
        await pool.query(`INSERT INTO task (user_id, title) VALUES ($1, 'after the timeout')`, [
          user.id,
        ]);
        expect(await committedIds(user)).toHaveLength(1);
      } finally {
        await pool.end();
      }
    });
  });

  describe('random interleavings of slow statements and writes', () => {
    let app: NestExpressApplication;
    let http: ReturnType<typeof request>;
    beforeAll(async () => {
      app = await createTestApp({
        DATABASE_POOL_SIZE: '2',
        DATABASE_LOCK_TIMEOUT_MS: '200',
        DATABASE_STATEMENT_TIMEOUT_MS: '400',
        DATABASE_QUERY_TIMEOUT_MS: '700',
        DATABASE_CONNECT_TIMEOUT_MS: '5000',
      });
      http = request(app.getHttpServer());
    });
    afterAll(() => app?.close());

    type Step =
      | { kind: 'create' }
      | { kind: 'update' | 'delete' | 'complete'; pick: number }
      | { kind: 'lock'; pick: number; holdMs: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constant({ kind: 'create' as const }),
      fc.record({
        kind: fc.constantFrom('update' as const, 'delete' as const, 'complete' as const),
        pick: fc.nat(),
      }),
      fc.record({
        kind: fc.constant('lock' as const),
        pick: fc.nat(),
        holdMs: fc.constantFrom(50, 350, 900),
      }),
    );

    /**
     * What the API acknowledged, per task: there with its last acknowledged title, or deleted.
     * A 503 must have changed nothing, so it is not "maybe": the check is exact.
     */
    type Ledger = Map<number, { title: string; deleted: boolean }>;
    const everything: Ledger = new Map();

    async function verify(ledger: Ledger): Promise<void> {
      const ids = [...ledger.keys()];
      const rows = (
        await outside.query<{ id: number; title: string }>(
          'SELECT id, title FROM task WHERE id = ANY($1::int[])',
          [ids],
        )
      ).rows;
      const stored = new Map(rows.map((row) => [row.id, row.title]));
      for (const [id, fact] of ledger) {
        expect([id, stored.get(id)]).toEqual([id, fact.deleted ? undefined : fact.title]);
      }
    }

    /** One user's steps, in order; locks come from outside and overlap the next steps. */
    async function play(user: TestUser, steps: Step[], ledger: Ledger, locks: Promise<void>[]) {
      const mine: number[] = [];
      let n = 0;
      for (const s of steps) {
        const live = mine.filter((id) => !ledger.get(id)?.deleted);
        const target = 'pick' in s && live.length ? live[s.pick % live.length] : undefined;
        const title = `${user.id.slice(-6)}-${n++}`;
        if (s.kind === 'create') {
          const res = await http.post('/api/tasks').set(user.auth).send({ title });
          expect([201, 503]).toContain(res.status);
          if (res.status === 201) {
            ledger.set(res.body.id, { title, deleted: false });
            mine.push(res.body.id);
          }
        } else if (target === undefined) {
          continue;
        } else if (s.kind === 'lock') {
          const lock = await lockTask(target);
          locks.push(
            new Promise((resolve) => setTimeout(resolve, s.holdMs)).then(() => lock.release()),
          );
        } else {
          const fact = ledger.get(target)!;
          const res =
            s.kind === 'delete'
              ? await http.delete(`/api/tasks/${target}`).set(user.auth)
              : s.kind === 'update'
                ? await http.patch(`/api/tasks/${target}`).set(user.auth).send({ title })
                : await http.patch(`/api/tasks/${target}/complete`).set(user.auth);
          expect([200, 204, 503]).toContain(res.status);
          if (res.status === 204) fact.deleted = true;
          else if (res.status === 200 && s.kind === 'update') fact.title = title;
        }
      }
    }

    it('should never lose an acknowledged write', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(step, { minLength: 3, maxLength: 10 }), { minLength: 2, maxLength: 4 }),
          async (plans) => {
            const ledger: Ledger = new Map();
            const locks: Promise<void>[] = [];
            const users = await Promise.all(plans.map(() => newUser()));
            await Promise.all(plans.map((steps, i) => play(users[i], steps, ledger, locks)));
            await Promise.all(locks);
            await verify(ledger);
            for (const [id, fact] of ledger) everything.set(id, fact);
          },
        ),
        { numRuns: 8 },
      );
      await app.close();
      await verify(everything);
    }, 120_000);
  });
});
