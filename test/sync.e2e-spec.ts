import { NestExpressApplication } from '@nestjs/platform-express';
import fc from 'fast-check';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { TasksMaintenance } from '../src/tasks/tasks.maintenance';
import { createTask, createTestApp, Task, useTestApp } from './support/app';
import { betterAuthUser, newUser, TestUser } from './support/tokens';

interface Changes {
  tasks: Task[];
  deleted_ids: number[];
  cursor: string;
  has_more: boolean;
}

describe('Changes feed, bulk, clear-completed and stats', () => {
  const suite = useTestApp();
  let user: TestUser;
  beforeEach(async () => {
    user = await newUser();
  });

  const create = (body: object, who: TestUser = user) => createTask(suite.http, who, body);
  const changes = async (since?: string, base = '/api/tasks'): Promise<Changes> => {
    const query = since === undefined ? '' : `?since=${encodeURIComponent(since)}`;
    return (await suite.http.get(`${base}/changes${query}`).set(user.auth).expect(200))
      .body as Changes;
  };

  describe('changes feed', () => {
    it('should round-trip: everything, then only later changes and deletions', async () => {
      const a = await create({ title: 'a' });
      const b = await create({ title: 'b' });
      const first = await changes();
      expect(first.tasks.map((t) => t.id)).toEqual([a.id, b.id]);
      expect(first.deleted_ids).toEqual([]);
      expect(typeof first.cursor).toBe('string');

      const quiet = await changes(first.cursor);
      expect(quiet).toEqual({
        tasks: [],
        deleted_ids: [],
        cursor: expect.any(String),
        has_more: false,
      });

      await suite.http.patch(`/api/tasks/${a.id}`).set(user.auth).send({ title: 'a2' }).expect(200);
      const c = await create({ title: 'c' });
      await suite.http.delete(`/api/tasks/${b.id}`).set(user.auth).expect(204);
      const second = await changes(quiet.cursor);
      expect(second.tasks.map((t) => [t.id, t.title])).toEqual([
        [a.id, 'a2'],
        [c.id, 'c'],
      ]);
      expect(second.deleted_ids).toEqual([b.id]);

      const third = await changes(second.cursor, `/api/${user.id}/tasks`);
      expect(third).toEqual({
        tasks: [],
        deleted_ids: [],
        cursor: expect.any(String),
        has_more: false,
      });
    });

    it('should report bulk deletions and clear-completed as deletions', async () => {
      const a = await create({ title: 'a', completed: true });
      const b = await create({ title: 'b' });
      const { cursor } = await changes();
      await suite.http
        .delete('/api/tasks?status=completed')
        .set(user.auth)
        .expect(200, { deleted: 1 });
      await suite.http
        .post('/api/tasks/bulk')
        .set(user.auth)
        .send({ action: 'delete', ids: [b.id] })
        .expect(200);
      expect((await changes(cursor)).deleted_ids).toEqual([a.id, b.id]);
    });

    it('should never show another user changes or deletions', async () => {
      const { cursor } = await changes();
      const other = await newUser();
      const theirs = await create({ title: 'theirs' }, other);
      await suite.http.delete(`/api/tasks/${theirs.id}`).set(other.auth).expect(204);
      expect(await changes(cursor)).toEqual({
        tasks: [],
        deleted_ids: [],
        cursor: expect.any(String),
        has_more: false,
      });
    });

    it('should remember deletions for at least 30 days', async () => {
      const a = await create({ title: 'a' });
      const b = await create({ title: 'b' });
      const { cursor } = await changes();
      await suite.http
        .post('/api/tasks/bulk')
        .set(user.auth)
        .send({ action: 'delete', ids: [a.id, b.id] })
        .expect(200);
      const db = suite.app.get(DataSource);
      await db.query(
        `UPDATE task_tombstone SET deleted_at = now() - interval '30 days' WHERE task_id = $1`,
        [a.id],
      );
      await db.query(
        `UPDATE task_tombstone SET deleted_at = now() - interval '40 days' WHERE task_id = $1`,
        [b.id],
      );
      await suite.app.get(TasksMaintenance).purge();
      expect((await changes(cursor)).deleted_ids).toEqual([a.id]);
    });

    it('should refuse a cursor it did not issue with 422', async () => {
      for (const since of ['garbage', Buffer.from('x:abc').toString('base64url'), '']) {
        const res = await suite.http
          .get(`/api/tasks/changes?since=${since}`)
          .set(user.auth)
          .expect(422);
        expect(res.body.detail[0].loc).toEqual(['query', 'since']);
      }
    });
  });

  describe('changes feed in pages', () => {
    let replica: NestExpressApplication;
    let replicaHttp: ReturnType<typeof request>;
    beforeAll(async () => {
      replica = await createTestApp();
      replicaHttp = request(replica.getHttpServer());
    });
    afterAll(() => replica?.close());

    /** A client's copy of the user's tasks, kept by the feed alone. */
    class Follower {
      readonly tasks = new Map<number, Task>();
      readonly delivered = new Set<string>();
      cursor?: string;
      pages = 0;

      /** One page, from either API process; a change delivered twice fails the test. */
      async page(limit: number): Promise<boolean> {
        const http = this.pages++ % 2 ? replicaHttp : suite.http;
        const query = new URLSearchParams({ limit: String(limit) });
        if (this.cursor) query.set('since', this.cursor);
        const res = await http
          .get(`/api/tasks/changes?${query.toString()}`)
          .set(user.auth)
          .expect(200);
        const body = res.body as Changes;
        expect(body.tasks.length + body.deleted_ids.length).toBeLessThanOrEqual(limit);
        for (const task of body.tasks) {
          const version = JSON.stringify(task);
          expect(this.delivered.has(version) ? version : 'new').toBe('new');
          this.delivered.add(version);
          this.tasks.set(task.id, task);
        }
        for (const id of body.deleted_ids) this.tasks.delete(id);
        this.cursor = body.cursor;
        return body.has_more;
      }

      /** Follows the cursor until the feed says there is no more. */
      async drain(limit: number): Promise<void> {
        while (await this.page(limit));
      }
    }

    async function serverState(): Promise<Task[]> {
      return (
        await suite.http.get('/api/tasks?limit=1000&sort=created_at&order=asc').set(user.auth)
      ).body as Task[];
    }

    it('should bound a page by limit and continue with has_more', async () => {
      for (let i = 0; i < 5; i++) await create({ title: `t${i}` });
      const first = await changes();
      expect(first.has_more).toBe(false);
      const paged = (await suite.http.get('/api/tasks/changes?limit=2').set(user.auth).expect(200))
        .body as Changes;
      expect(paged).toMatchObject({ has_more: true, deleted_ids: [] });
      expect(paged.tasks.map((t) => t.title)).toEqual(['t0', 't1']);
    });

    it('should deliver every change exactly once across pages, passes and API processes while writes go on', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 9; i++) ids.push((await create({ title: `t${i}` })).id);
      const follower = new Follower();
      await follower.page(4); // t0..t3 delivered
      await suite.http
        .patch(`/api/tasks/${ids[0]}`)
        .set(user.auth)
        .send({ title: 'x0' })
        .expect(200);
      await suite.http
        .patch(`/api/tasks/${ids[6]}`)
        .set(user.auth)
        .send({ title: 'x6' })
        .expect(200);
      await suite.http.delete(`/api/tasks/${ids[1]}`).set(user.auth).expect(204);
      await suite.http.delete(`/api/tasks/${ids[7]}`).set(user.auth).expect(204);
      await create({ title: 'late' });
      await follower.drain(4);
      await follower.drain(4); // the next pass brings what changed during the first
      expect([...follower.tasks.values()].sort((a, b) => a.id - b.id)).toEqual(await serverState());
    });

    it('should deliver a write that commits after a page was read exactly once', async () => {
      const a = await create({ title: 'a' });
      // A transaction that starts before the page is read and commits after it.
      const late = suite.app.get(DataSource).createQueryRunner();
      await late.startTransaction();
      try {
        await late.query(`INSERT INTO task (user_id, title) VALUES ($1, 'late')`, [user.id]);
        await create({ title: 'b' });
        const follower = new Follower();
        expect(await follower.page(1)).toBe(true);
        expect([...follower.tasks.keys()]).toEqual([a.id]);
        await late.commitTransaction();
        await follower.drain(1);
        await follower.drain(1);
        expect([...follower.tasks.values()].map((t) => t.title).sort()).toEqual(['a', 'b', 'late']);
        expect([...follower.tasks.values()].sort((x, y) => x.id - y.id)).toEqual(
          await serverState(),
        );
      } finally {
        if (late.isTransactionActive) await late.rollbackTransaction();
        await late.release();
      }
    });

    it('should page in transaction-number order across a power of ten', async () => {
      const [a, b, c] = [
        await create({ title: 'a' }),
        await create({ title: 'b' }),
        await create({ title: 'c' }),
      ];
      // Past transaction numbers either side of a power of ten (as text, '1000' < '999'), set
      // directly: the trigger that would overwrite them is off for this one session.
      const direct = new Client({ connectionString: process.env.DATABASE_URL });
      await direct.connect();
      try {
        const { rows } = await direct.query<{ xmin: string }>(
          `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`,
        );
        let power = 10;
        while (power * 10 + 1 < Number(rows[0].xmin)) power *= 10;
        // SET LOCAL: through a pooler (the e2e-pooler project) a session SET would stay behind on
        // the server connection, and other tests' inserts there would skip the trigger.
        await direct.query(`BEGIN; SET LOCAL session_replication_role = replica`);
        const xids = [power - 1, power, power + 1];
        for (const [i, task] of [a, b, c].entries()) {
          await direct.query('UPDATE task SET change_xid = $2 WHERE id = $1', [task.id, xids[i]]);
        }
        await direct.query('COMMIT');
      } finally {
        await direct.end();
      }
      const follower = new Follower();
      await follower.drain(1);
      expect([...follower.tasks.keys()]).toEqual([a.id, b.id, c.id]);
    });

    it('should keep a follower exact under random writes and page sizes', async () => {
      type Op = { kind: 'create' | 'update' | 'delete' | 'page'; pick: number; limit: number };
      const op = fc.record({
        kind: fc.constantFrom<Op['kind']>('create', 'update', 'delete', 'page'),
        pick: fc.nat(),
        limit: fc.integer({ min: 1, max: 4 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
          user = await newUser();
          const follower = new Follower();
          const live: number[] = [];
          for (const [n, { kind, pick, limit }] of ops.entries()) {
            const target = live.length ? live[pick % live.length] : undefined;
            if (kind === 'create') live.push((await create({ title: `c${n}` })).id);
            else if (kind === 'page') await follower.page(limit);
            else if (target !== undefined && kind === 'update') {
              await suite.http
                .patch(`/api/tasks/${target}`)
                .set(user.auth)
                .send({ title: `u${n}` });
            } else if (target !== undefined) {
              await suite.http.delete(`/api/tasks/${target}`).set(user.auth).expect(204);
              live.splice(live.indexOf(target), 1);
            }
          }
          await follower.drain(3);
          await follower.drain(3);
          const sorted = [...follower.tasks.values()].sort((a, b) => a.id - b.id);
          expect(sorted).toEqual(await serverState());
        }),
        { numRuns: 15 },
      );
    }, 60_000);

    it('should refuse a bad limit and a forged cursor at their own parameter, on both route families', async () => {
      for (const base of ['/api/tasks', `/api/${user.id}/tasks`]) {
        for (const limit of ['0', '1001', 'x']) {
          const res = await suite.http.get(`${base}/changes?limit=${limit}`).set(user.auth);
          expect([base, res.status, res.body.detail[0].loc]).toEqual([
            base,
            422,
            ['query', 'limit'],
          ]);
        }
        for (const forged of [
          's:5:99999999999999999999:',
          's:1:18446744073709551615:',
          'c2/5:9:/5:9:/t/99999999999999999999/1',
          'c2/1:2:/3:4:/d/0/0/0',
        ]) {
          const since = Buffer.from(forged).toString('base64url');
          const res = await suite.http.get(`${base}/changes?since=${since}`).set(user.auth);
          expect([base, res.status, res.body.detail[0].loc]).toEqual([
            base,
            422,
            ['query', 'since'],
          ]);
        }
      }
    });
  });

  describe('bulk', () => {
    it('should apply to own tasks only, reporting others and unknown ids as not found', async () => {
      const mine = await create({ title: 'mine' });
      const other = await newUser();
      const theirs = await create({ title: 'theirs' }, other);
      const res = await suite.http
        .post('/api/tasks/bulk')
        .set(user.auth)
        .send({ action: 'complete', ids: [theirs.id, mine.id, 2147483647, 99999999999] })
        .expect(200);
      expect(res.body).toEqual({
        updated: [mine.id],
        not_found: [theirs.id, 2147483647, 99999999999],
      });

      const untouched = await suite.http.get(`/api/tasks/${theirs.id}`).set(other.auth).expect(200);
      expect(untouched.body).toEqual(theirs);
      for (const action of ['reopen', 'delete']) {
        const r = await suite.http
          .post('/api/tasks/bulk')
          .set(user.auth)
          .send({ action, ids: [theirs.id] });
        expect(r.body).toEqual({ updated: [], not_found: [theirs.id] });
      }
      await suite.http.get(`/api/tasks/${theirs.id}`).set(other.auth).expect(200, theirs);
    });

    it('should complete, reopen and delete in one transaction each', async () => {
      const a = await create({ title: 'a' });
      const b = await create({ title: 'b', completed: true });
      await suite.http
        .post('/api/tasks/bulk')
        .set(user.auth)
        .send({ action: 'complete', ids: [a.id, b.id] })
        .expect(200);
      let list = (await suite.http.get('/api/tasks').set(user.auth)).body as Task[];
      expect(list.every((t) => t.completed === true)).toBe(true);
      await suite.http
        .post('/api/tasks/bulk')
        .set(user.auth)
        .send({ action: 'reopen', ids: [a.id, b.id] })
        .expect(200);
      list = (await suite.http.get('/api/tasks').set(user.auth)).body as Task[];
      expect(list.every((t) => t.completed === false && t.completed_at === null)).toBe(true);
      await suite.http
        .post('/api/tasks/bulk')
        .set(user.auth)
        .send({ action: 'delete', ids: [a.id, b.id] })
        .expect(200);
      expect((await suite.http.get('/api/tasks').set(user.auth)).body).toEqual([]);
    });

    it('should validate the request', async () => {
      const ids = Array.from({ length: 501 }, (_, i) => i + 1);
      for (const [body, loc] of [
        [{ action: 'archive', ids: [1] }, ['body', 'action']],
        [{ ids: [1] }, ['body', 'action']],
        [{ action: 'delete' }, ['body', 'ids']],
        [{ action: 'delete', ids: [] }, ['body', 'ids']],
        [{ action: 'delete', ids }, ['body', 'ids']],
        // Strings of digits are ids (TASK_ID_TYPE=string frontends send them back); nothing else.
        [{ action: 'delete', ids: ['abc'] }, ['body', 'ids']],
        [{ action: 'delete', ids: ['1.5'] }, ['body', 'ids']],
        [{ action: 'delete', ids: ['1e3'] }, ['body', 'ids']],
        [{ action: 'delete', ids: [null] }, ['body', 'ids']],
        [{ action: 'delete', ids: [1.5] }, ['body', 'ids']],
      ] as const) {
        const res = await suite.http.post('/api/tasks/bulk').set(user.auth).send(body);
        expect([body, res.status]).toEqual([body, 422]);
        expect(res.body.detail[0].loc.slice(0, 2)).toEqual(loc);
      }
    });
  });

  describe('clear completed', () => {
    it('should delete only the caller completed tasks', async () => {
      await create({ title: 'done 1', completed: true });
      await create({ title: 'done 2', completed: true });
      const open = await create({ title: 'open' });
      const other = await newUser();
      const theirs = await create({ title: 'theirs done', completed: true }, other);

      await suite.http
        .delete(`/api/${user.id}/tasks?status=completed`)
        .set(user.auth)
        .expect(200, { deleted: 2 });
      expect((await suite.http.get('/api/tasks').set(user.auth)).body).toEqual([open]);
      await suite.http.get(`/api/tasks/${theirs.id}`).set(other.auth).expect(200);
    });

    it('should refuse a collection DELETE without status=completed and delete nothing', async () => {
      await create({ title: 'keep', completed: true });
      for (const query of ['', '?status=all', '?status=pending']) {
        const res = await suite.http.delete(`/api/tasks${query}`).set(user.auth).expect(422);
        expect(res.body.detail[0].loc).toEqual(['query', 'status']);
      }
      expect((await suite.http.get('/api/tasks').set(user.auth)).body).toHaveLength(1);
    });
  });

  describe('stats', () => {
    it('should count total, completed, pending, overdue and due today (UTC)', async () => {
      const now = Date.now();
      const todayEnd = new Date();
      todayEnd.setUTCHours(23, 59, 0, 0);
      await create({ title: 'overdue', due_date: new Date(now - 86_400_000 * 2).toISOString() });
      await create({ title: 'today', due_date: todayEnd.toISOString() });
      await create({
        title: 'done',
        completed: true,
        due_date: new Date(now - 86_400_000).toISOString(),
      });
      await create({ title: 'no date' });
      const other = await newUser();
      await create({ title: 'not mine' }, other);

      const stats = await suite.http.get(`/api/${user.id}/tasks/stats`).set(user.auth).expect(200);
      expect(stats.body).toEqual({ total: 4, completed: 1, pending: 3, overdue: 1, due_today: 1 });
    });
  });

  it('should keep every new route to the caller (Better Auth users, both families)', async () => {
    const alice = await betterAuthUser();
    const bob = await betterAuthUser();
    const task = await create({ title: 'alice only' }, alice);
    for (const base of ['/api/tasks', `/api/${bob.id}/tasks`]) {
      expect(
        (await suite.http.get(`${base}/changes`).set(bob.auth).expect(200)).body.tasks,
      ).toEqual([]);
      expect((await suite.http.get(`${base}/stats`).set(bob.auth).expect(200)).body.total).toBe(0);
      await suite.http.delete(`${base}?status=completed`).set(bob.auth).expect(200, { deleted: 0 });
    }
    for (const path of ['changes', 'stats']) {
      await suite.http.get(`/api/${alice.id}/tasks/${path}`).set(bob.auth).expect(403);
    }
    await suite.http
      .post(`/api/${alice.id}/tasks/bulk`)
      .set(bob.auth)
      .send({ action: 'delete', ids: [task.id] })
      .expect(403);
    await suite.http.delete(`/api/${alice.id}/tasks?status=completed`).set(bob.auth).expect(403);
    await suite.http.get(`/api/tasks/${task.id}`).set(alice.auth).expect(200, task);
  });

  it('should let browsers send and read the concurrency headers', async () => {
    const preflight = await suite.http
      .options('/api/tasks/1')
      .set('Origin', 'http://localhost:3000')
      .set('Access-Control-Request-Method', 'PATCH')
      .set('Access-Control-Request-Headers', 'if-match,if-none-match,idempotency-key')
      .expect(204);
    expect(preflight.headers['access-control-allow-headers'].toLowerCase()).toContain(
      'if-none-match',
    );
    const res = await suite.http
      .get('/api/tasks')
      .set(user.auth)
      .set('Origin', 'http://localhost:3000');
    const exposed = res.headers['access-control-expose-headers'].toLowerCase();
    expect(exposed).toContain('etag');
    expect(exposed).toContain('idempotent-replayed');
  });
});
