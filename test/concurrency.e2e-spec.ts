import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp, useTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

type Task = { id: number; title: string; [key: string]: unknown };

describe('ETags and idempotency keys', () => {
  const suite = useTestApp();
  let user: TestUser;
  beforeEach(async () => {
    user = await newUser();
  });

  const create = (body: object, key?: string) => {
    const req = suite.http.post('/api/tasks').set(user.auth);
    if (key) void req.set('Idempotency-Key', key);
    return req.send(body);
  };

  describe('ETag', () => {
    it('should send a strong ETag that changes on every write', async () => {
      const created = await create({ title: 'v1' }).expect(201);
      const etag = created.headers.etag;
      expect(etag).toMatch(/^"[^"]+"$/);
      const read = await suite.http.get(`/api/tasks/${created.body.id}`).set(user.auth).expect(200);
      expect(read.headers.etag).toBe(etag);
      const patched = await suite.http
        .patch(`/api/tasks/${created.body.id}`)
        .set(user.auth)
        .send({ title: 'v2' })
        .expect(200);
      expect(patched.headers.etag).not.toBe(etag);
      const completed = await suite.http
        .patch(`/api/tasks/${created.body.id}/complete`)
        .set(user.auth)
        .expect(200);
      expect(completed.headers.etag).not.toBe(patched.headers.etag);
    });

    it('should answer 304 to If-None-Match while unchanged, 200 after a change', async () => {
      const created = await create({ title: 'cached' }).expect(201);
      const url = `/api/tasks/${created.body.id}`;
      const notModified = await suite.http
        .get(url)
        .set(user.auth)
        .set('If-None-Match', created.headers.etag)
        .expect(304);
      expect(notModified.text).toBe('');
      expect(notModified.headers.etag).toBe(created.headers.etag);
      await suite.http
        .get(url)
        .set(user.auth)
        .set('If-None-Match', `W/${created.headers.etag}`)
        .expect(304);
      await suite.http.patch(url).set(user.auth).send({ title: 'changed' }).expect(200);
      const fresh = await suite.http
        .get(url)
        .set(user.auth)
        .set('If-None-Match', created.headers.etag)
        .expect(200);
      expect(fresh.body.title).toBe('changed');
    });

    it('should answer 412 to a stale If-Match on every write verb and change nothing', async () => {
      const created = await create({ title: 'original' }).expect(201);
      const url = `/api/tasks/${created.body.id}`;
      const stale = created.headers.etag;
      await suite.http.patch(url).set(user.auth).send({ description: 'first writer' }).expect(200);
      const before = (await suite.http.get(url).set(user.auth).expect(200)).body as Task;

      for (const call of [
        () => suite.http.put(url).send({ title: 'lost update' }),
        () => suite.http.patch(url).send({ title: 'lost update' }),
        () => suite.http.patch(`${url}/complete`),
        () => suite.http.delete(url),
      ]) {
        const res = await call().set(user.auth).set('If-Match', stale).expect(412);
        expect(res.body).toEqual({ detail: expect.any(String) });
      }
      await suite.http
        .patch(url)
        .set(user.auth)
        .set('If-Match', `W/${before.id}`)
        .send({ title: 'x' })
        .expect(412);
      expect((await suite.http.get(url).set(user.auth).expect(200)).body).toEqual(before);
    });

    it('should apply a write whose If-Match is current', async () => {
      const created = await create({ title: 'a' }).expect(201);
      const url = `/api/tasks/${created.body.id}`;
      const updated = await suite.http
        .patch(url)
        .set(user.auth)
        .set('If-Match', created.headers.etag)
        .send({ title: 'b' })
        .expect(200);
      await suite.http.delete(url).set(user.auth).set('If-Match', updated.headers.etag).expect(204);
    });

    it('should let exactly one of two writers with the same If-Match win', async () => {
      const created = await create({ title: 'contended' }).expect(201);
      const url = `/api/tasks/${created.body.id}`;
      const results = await Promise.all(
        ['one', 'two'].map((title) =>
          suite.http
            .patch(url)
            .set(user.auth)
            .set('If-Match', created.headers.etag)
            .send({ title }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    });
  });

  describe('Idempotency-Key', () => {
    it('should replay the first answer for a retry and create nothing more', async () => {
      const key = randomUUID();
      const first = await create({ title: 'once' }, key).expect(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const retry = await create({ title: 'once' }, key).expect(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.etag).toBe(first.headers.etag);
      const list = await suite.http.get('/api/tasks').set(user.auth).expect(200);
      expect(list.body).toHaveLength(1);
    });

    it('should refuse the same key with a different body (422) and create nothing', async () => {
      const key = randomUUID();
      await create({ title: 'original' }, key).expect(201);
      const res = await create({ title: 'different' }, key).expect(422);
      expect(res.body.detail[0].loc).toEqual(['header', 'Idempotency-Key']);
      expect((await suite.http.get('/api/tasks').set(user.auth)).body).toHaveLength(1);
    });

    it('should keep keys per user', async () => {
      const key = randomUUID();
      const other = await newUser();
      await create({ title: 'mine' }, key).expect(201);
      const theirs = await suite.http
        .post('/api/tasks')
        .set(other.auth)
        .set('Idempotency-Key', key)
        .send({ title: 'mine' })
        .expect(201);
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      expect(theirs.body.user_id).toBe(other.id);
    });

    it('should give exactly one task for concurrent duplicates with one key', async () => {
      const key = randomUUID();
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => create({ title: 'dup' }, key)),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
      expect(new Set(responses.map((r) => (r.body as Task).id)).size).toBe(1);
      expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
      expect((await suite.http.get('/api/tasks').set(user.auth)).body).toHaveLength(1);
    });

    it('should be shared by several API processes (same database)', async () => {
      const second = await createTestApp();
      try {
        const key = randomUUID();
        const [a, b] = await Promise.all([
          create({ title: 'two apps' }, key),
          request(second.getHttpServer())
            .post('/api/tasks')
            .set(user.auth)
            .set('Idempotency-Key', key)
            .send({ title: 'two apps' }),
        ]);
        expect([a.status, b.status]).toEqual([201, 201]);
        expect(a.body.id).toBe(b.body.id);
        expect((await suite.http.get('/api/tasks').set(user.auth)).body).toHaveLength(1);
      } finally {
        await second.close();
      }
    });

    it('should make bulk requests idempotent too', async () => {
      const task = (await create({ title: 'bulk' }).expect(201)).body as Task;
      const key = randomUUID();
      const send = () =>
        suite.http
          .post('/api/tasks/bulk')
          .set(user.auth)
          .set('Idempotency-Key', key)
          .send({ action: 'delete', ids: [task.id] });
      expect((await send().expect(200)).body).toEqual({ updated: [task.id], not_found: [] });
      const replay = await send().expect(200);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual({ updated: [task.id], not_found: [] });
    });

    it('should keep a key for 24 hours and free it after', async () => {
      const key = randomUUID();
      const first = await create({ title: 'day one' }, key).expect(201);
      const db = suite.app.get(DataSource);
      const age = (interval: string) =>
        db.query(
          `UPDATE idempotency_key SET created_at = now() - $3::interval WHERE user_id = $1 AND key = $2`,
          [user.id, key, interval],
        );
      await age('23 hours 59 minutes');
      const replay = await create({ title: 'day one' }, key).expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      await age('24 hours 1 minute');
      const fresh = await create({ title: 'day two' }, key).expect(201);
      expect(fresh.headers['idempotent-replayed']).toBeUndefined();
      expect(fresh.body.id).not.toBe(first.body.id);
    });

    it('should refuse a malformed key with 422', async () => {
      const res = await create({ title: 'x' }, 'x'.repeat(256)).expect(422);
      expect(res.body.detail[0].loc).toEqual(['header', 'Idempotency-Key']);
    });
  });
});
