import { useTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

/** Both route families behave the same; every test runs against each. */
const families = [
  { name: '/api/tasks', base: (_user: TestUser) => '/api/tasks' },
  {
    name: '/api/{user_id}/tasks',
    base: (user: TestUser) => `/api/${encodeURIComponent(user.id)}/tasks`,
  },
];

describe('Tasks contract', () => {
  const suite = useTestApp();

  describe.each(families)('$name', ({ base }) => {
    let user: TestUser;
    let url: string;
    beforeEach(async () => {
      user = await newUser();
      url = base(user);
    });
    const create = (body: object) => suite.http.post(url).set(user.auth).send(body);

    it('should create a task (201) with defaults, trimmed title and ISO UTC timestamps', async () => {
      const res = await create({ title: '  Buy milk  ' }).expect(201);
      expect(res.body).toEqual({
        id: expect.any(Number),
        user_id: user.id,
        title: 'Buy milk',
        description: null,
        completed: false,
        priority: 'medium',
        tags: [],
        due_date: null,
        remind_at: null,
        recurrence: null,
        recurrence_until: null,
        completed_at: null,
        next_task_id: null,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        updated_at: expect.stringMatching(/Z$/),
      });
    });

    it('should ignore fields a client may not set, and never apply them', async () => {
      const other = await newUser();
      const res = await create({
        title: 'Mine',
        id: 999999,
        user_id: other.id,
        created_at: '2000-01-01T00:00:00.000Z',
        updated_at: '2000-01-01T00:00:00.000Z',
        owner: 'x',
        is_admin: true,
      }).expect(201);
      expect(res.body.user_id).toBe(user.id);
      expect(res.body.id).not.toBe(999999);
      expect(res.body.created_at).not.toBe('2000-01-01T00:00:00.000Z');
      expect(res.body).not.toHaveProperty('owner');
      expect(res.body).not.toHaveProperty('is_admin');

      const updated = await suite.http
        .patch(`${url}/${res.body.id}`)
        .set(user.auth)
        .send({ title: 'Still mine', user_id: other.id, id: 1 })
        .expect(200);
      expect(updated.body).toMatchObject({
        id: res.body.id,
        user_id: user.id,
        title: 'Still mine',
      });
    });

    it('should read, list (newest first) and 404 on an unknown id', async () => {
      const first = (await create({ title: 'first' }).expect(201)).body;
      const second = (await create({ title: 'second', description: 'd' }).expect(201)).body;
      await suite.http.get(`${url}/${first.id}`).set(user.auth).expect(200, first);
      const list = await suite.http.get(url).set(user.auth).expect(200);
      expect(list.body.map((t: { id: number }) => t.id)).toEqual([second.id, first.id]);
      expect(list.headers['x-total-count']).toBe('2');
      const missing = await suite.http.get(`${url}/2147483647`).set(user.auth).expect(404);
      expect(missing.body).toEqual({ detail: 'Task not found' });
      await suite.http.get(`${url}/99999999999999`).set(user.auth).expect(404);
    });

    it('should merge only present fields on PUT and PATCH, and null clears description', async () => {
      const task = (await create({ title: 'a', description: 'keep me' }).expect(201)).body;
      const put = await suite.http
        .put(`${url}/${task.id}`)
        .set(user.auth)
        .send({ title: 'b' })
        .expect(200);
      expect(put.body).toMatchObject({ title: 'b', description: 'keep me', completed: false });
      const patch = await suite.http
        .patch(`${url}/${task.id}`)
        .set(user.auth)
        .send({ completed: true, description: null })
        .expect(200);
      expect(patch.body).toMatchObject({ title: 'b', description: null, completed: true });
      expect(Date.parse(patch.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(task.updated_at));
    });

    it('should refuse an empty update with 422 and change nothing', async () => {
      const task = (await create({ title: 'a' }).expect(201)).body;
      for (const body of [{}, { unknown: 1 }, { id: 5, user_id: 'x' }]) {
        const res = await suite.http
          .patch(`${url}/${task.id}`)
          .set(user.auth)
          .send(body)
          .expect(422);
        expect(res.body.detail[0]).toMatchObject({ loc: ['body'], type: expect.any(String) });
        await suite.http.put(`${url}/${task.id}`).set(user.auth).send(body).expect(422);
      }
      await suite.http.get(`${url}/${task.id}`).set(user.auth).expect(200, task);
    });

    it('should toggle on a bare complete and set with a body', async () => {
      const task = (await create({ title: 'a' }).expect(201)).body;
      const completeUrl = `${url}/${task.id}/complete`;
      expect((await suite.http.patch(completeUrl).set(user.auth).expect(200)).body.completed).toBe(
        true,
      );
      expect((await suite.http.patch(completeUrl).set(user.auth).expect(200)).body.completed).toBe(
        false,
      );
      const set = await suite.http
        .patch(completeUrl)
        .set(user.auth)
        .send({ completed: true })
        .expect(200);
      expect(set.body.completed).toBe(true);
      const again = await suite.http
        .patch(completeUrl)
        .set(user.auth)
        .send({ completed: true })
        .expect(200);
      expect(again.body.completed).toBe(true);
      await suite.http.patch(completeUrl).set(user.auth).send({ completed: 'yes' }).expect(422);
    });

    it('should delete with 204 and an empty body, then 404', async () => {
      const task = (await create({ title: 'a' }).expect(201)).body;
      const res = await suite.http.delete(`${url}/${task.id}`).set(user.auth).expect(204);
      expect(res.text).toBe('');
      await suite.http.delete(`${url}/${task.id}`).set(user.auth).expect(404);
      await suite.http.get(`${url}/${task.id}`).set(user.auth).expect(404);
    });

    it('should answer 422 with FastAPI details for bad input', async () => {
      const cases: [object, (string | number)[], string][] = [
        [{}, ['body', 'title'], 'missing'],
        [{ title: '   ' }, ['body', 'title'], 'string_too_short'],
        [{ title: 'x'.repeat(201) }, ['body', 'title'], 'string_too_long'],
        [{ title: 42 }, ['body', 'title'], 'string_type'],
        [{ title: null }, ['body', 'title'], 'string_type'],
        [
          { title: 'ok', description: 'x'.repeat(1001) },
          ['body', 'description'],
          'string_too_long',
        ],
        [{ title: 'ok', completed: 'true' }, ['body', 'completed'], 'bool_type'],
      ];
      for (const [body, loc, type] of cases) {
        const res = await create(body).expect(422);
        expect(res.body.detail).toEqual([{ loc, msg: expect.any(String), type }]);
      }
      const bad = await suite.http.get(`${url}/abc`).set(user.auth).expect(422);
      expect(bad.body.detail).toEqual([
        { loc: ['path', 'id'], msg: expect.any(String), type: 'int_parsing' },
      ]);
      await suite.http.get(`${url}/1.5`).set(user.auth).expect(422);
      await suite.http.delete(`${url}/1e3`).set(user.auth).expect(422);
      const list = await suite.http.get(`${url}?limit=0`).set(user.auth).expect(422);
      expect(list.body.detail[0].loc).toEqual(['query', 'limit']);
      await suite.http.get(`${url}?limit=1001`).set(user.auth).expect(422);
      await suite.http.get(`${url}?offset=-1`).set(user.auth).expect(422);
      const status = await suite.http.get(`${url}?status=done`).set(user.auth).expect(422);
      expect(status.body.detail[0].loc).toEqual(['query', 'status']);
    });

    it('should accept 200-character titles and 1000-character descriptions', async () => {
      await create({ title: 'x'.repeat(200), description: 'y'.repeat(1000) }).expect(201);
    });

    it('should filter by status with its aliases', async () => {
      const done = (await create({ title: 'done', completed: true }).expect(201)).body;
      const open = (await create({ title: 'open' }).expect(201)).body;
      const ids = async (query: string) =>
        (await suite.http.get(`${url}?${query}`).set(user.auth).expect(200)).body.map(
          (t: { id: number }) => t.id,
        );
      expect(await ids('status=all')).toEqual([open.id, done.id]);
      expect(await ids('status=completed')).toEqual([done.id]);
      for (const alias of ['pending', 'incomplete', 'active']) {
        expect(await ids(`status=${alias}`)).toEqual([open.id]);
      }
    });

    it('should page with limit/offset, X-Total-Count and Link rel="next"', async () => {
      const created = [];
      for (let i = 0; i < 5; i++)
        created.push((await create({ title: `t${i}` }).expect(201)).body.id);
      const newestFirst = [...created].reverse();

      const page1 = await suite.http.get(`${url}?limit=2`).set(user.auth).expect(200);
      expect(page1.body.map((t: { id: number }) => t.id)).toEqual(newestFirst.slice(0, 2));
      expect(page1.headers['x-total-count']).toBe('5');
      const next = /<([^>]+)>; rel="next"/.exec(page1.headers.link)?.[1];
      expect(next).toBeDefined();

      const page2 = await suite.http
        .get(next as string)
        .set(user.auth)
        .expect(200);
      expect(page2.body.map((t: { id: number }) => t.id)).toEqual(newestFirst.slice(2, 4));
      const last = await suite.http.get(`${url}?limit=2&offset=4`).set(user.auth).expect(200);
      expect(last.body.map((t: { id: number }) => t.id)).toEqual(newestFirst.slice(4));
      expect(last.headers.link).not.toMatch(/rel="next"/);
      expect(last.headers.link).toMatch(/rel="prev"/);
    });
  });

  it('should refuse a {user_id} that is not the caller with 403 on every verb', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const task = (
      await suite.http.post('/api/tasks').set(alice.auth).send({ title: 'a' }).expect(201)
    ).body;
    const foreign = `/api/${alice.id}/tasks`;
    const calls = [
      suite.http.get(foreign),
      suite.http.post(foreign).send({ title: 'x' }),
      suite.http.get(`${foreign}/${task.id}`),
      suite.http.put(`${foreign}/${task.id}`).send({ title: 'x' }),
      suite.http.patch(`${foreign}/${task.id}`).send({ title: 'x' }),
      suite.http.patch(`${foreign}/${task.id}/complete`),
      suite.http.delete(`${foreign}/${task.id}`),
    ];
    for (const call of calls) {
      const res = await call.set(bob.auth).expect(403);
      expect(res.body).toEqual({ detail: expect.any(String) });
    }
    await suite.http.get(`/api/tasks/${task.id}`).set(alice.auth).expect(200, task);
  });
});
