import request, { Response } from 'supertest';
import { createTestApp, useTestApp } from './support/app';
import { betterAuthUser, newUser, TestUser } from './support/tokens';

// Several apps boot here, and some tests create 105 tasks: slow on a busy machine.
jest.setTimeout(60_000);

type Http = ReturnType<typeof request>;
type Json = Record<string, unknown>;
/** A task as answered: its id a number, or a string under TASK_ID_TYPE=string. */
type Task = Json & { id: number | string };

/** Every setting is checked on both route families. */
const FAMILIES: [string, (user: TestUser) => string][] = [
  ['/api/tasks', () => '/api/tasks'],
  ['/api/{user_id}/tasks', (user) => `/api/${encodeURIComponent(user.id)}/tasks`],
];
const DIGITS = /^\d+$/;

async function create(http: Http, url: string, user: TestUser, body: object): Promise<Task> {
  return (await http.post(url).set(user.auth).send(body).expect(201)).body as Task;
}

/** `n` tasks, a few at a time (titles t000, t001, …). */
async function createMany(http: Http, url: string, user: TestUser, n: number): Promise<void> {
  for (let start = 0; start < n; start += 15) {
    await Promise.all(
      Array.from({ length: Math.min(15, n - start) }, (_, i) =>
        create(http, url, user, { title: `t${String(start + i).padStart(3, '0')}` }),
      ),
    );
  }
}

/** The relations of a `Link` header: `{ next: '/api/tasks?limit=…', prev: … }`. */
function links(res: Response): Record<string, string> {
  const header = res.headers.link as string | undefined;
  const found: Record<string, string> = {};
  for (const [, url, rel] of (header ?? '').matchAll(/<([^>]+)>; rel="(\w+)"/g)) found[rel] = url;
  return found;
}

interface OpenApi {
  paths: Record<string, Record<string, Json & { responses: Record<string, Json> }>>;
  components: { schemas: Record<string, { properties: Record<string, Json> }> };
}
const openApi = async (http: Http) => (await http.get('/openapi.json').expect(200)).body as OpenApi;
const LIST_PATHS = ['/api/tasks', '/api/{user_id}/tasks'];
const ONE_PATHS = ['/api/tasks/{id}', '/api/{user_id}/tasks/{id}'];
const listSchema = (doc: OpenApi, path: string) =>
  (doc.paths[path].get.responses['200'].content as Json)['application/json'];

/** Before each test: a new user, and the tasks URL of the family `base` builds for them. */
function beforeEachNewUser(
  base: (user: TestUser) => string,
  use: (user: TestUser, url: string) => void,
): void {
  beforeEach(async () => {
    const user = await newUser();
    use(user, base(user));
  });
}

describe('Compatibility settings, all at their defaults', () => {
  const suite = useTestApp();

  describe.each(FAMILIES)('%s', (_family, base) => {
    let user: TestUser;
    let url: string;
    beforeEachNewUser(base, (created, tasksUrl) => ((user = created), (url = tasksUrl)));

    it('should answer a list as a bare array, paging in X-Total-Count and Link', async () => {
      await createMany(suite.http, url, user, 3);
      const res = await suite.http.get(`${url}?limit=2`).set(user.auth).expect(200);

      expect(Array.isArray(res.body)).toBe(true);
      expect(res.body).toHaveLength(2);
      expect(res.headers['x-total-count']).toBe('3');
      expect(links(res).next).toMatch(/[?&]limit=2&offset=2$/);
    });

    it('should answer DELETE 204 with no body', async () => {
      const task = await create(suite.http, url, user, { title: 'bye' });
      const res = await suite.http.delete(`${url}/${task.id}`).set(user.auth).expect(204);

      expect(res.text).toBe('');
      expect(res.headers['content-type']).toBeUndefined();
    });

    it('should write task ids as integers, and take bulk ids as numbers or strings of digits', async () => {
      const a = await create(suite.http, url, user, { title: 'a' });
      const b = await create(suite.http, url, user, { title: 'b' });
      expect(a.id).toEqual(expect.any(Number));

      const bulk = await suite.http
        .post(`${url}/bulk`)
        .set(user.auth)
        .send({ action: 'complete', ids: [String(a.id), b.id, '2147483647'] })
        .expect(200);

      expect(bulk.body).toEqual({ updated: [a.id, b.id], not_found: [2147483647] });
    });
  });

  it('should list all 105 tasks of a user without a limit, on both families, with no Link', async () => {
    const user = await newUser();
    await createMany(suite.http, '/api/tasks', user, 105);
    for (const [, base] of FAMILIES) {
      const res = await suite.http.get(base(user)).set(user.auth).expect(200);

      expect(res.body).toHaveLength(105);
      expect(res.headers['x-total-count']).toBe('105');
      expect(res.headers.link).toBeUndefined();
    }
  });

  it('should serve the default shapes to a real Better Auth (JWKS) token', async () => {
    const user = await betterAuthUser();
    for (const [, base] of FAMILIES) {
      const url = base(user);
      const task = await create(suite.http, url, user, { title: 'jwks' });
      expect(task.id).toEqual(expect.any(Number));
      const list = await suite.http.get(url).set(user.auth).expect(200);
      expect(list.body).toEqual([task]);
      await suite.http.delete(`${url}/${task.id}`).set(user.auth).expect(204, '');
    }
  });

  it('should document the default shapes in /openapi.json', async () => {
    const doc = await openApi(suite.http);

    for (const path of LIST_PATHS) {
      expect(listSchema(doc, path)).toEqual({
        schema: { type: 'array', items: { $ref: '#/components/schemas/TaskResponse' } },
      });
      const limit = (doc.paths[path].get.parameters as Json[]).find((p) => p.name === 'limit');
      expect(limit?.schema).toMatchObject({ default: 1000, maximum: 1000 });
    }
    for (const path of ONE_PATHS) {
      expect(Object.keys(doc.paths[path].delete.responses)).toContain('204');
      expect(doc.paths[path].delete.responses).not.toHaveProperty('200');
    }
    const { schemas } = doc.components;
    expect(schemas.TaskResponse.properties.id).toMatchObject({ type: 'integer' });
    expect(schemas.BulkResultResponse.properties.updated).toMatchObject({
      items: { type: 'integer' },
    });
    // The marker that finds task ids never reaches the published document.
    expect(JSON.stringify(doc)).not.toContain('x-task-id');
  });
});

describe('LIST_RESPONSE=envelope', () => {
  const suite = useTestApp({ LIST_RESPONSE: 'envelope' });

  describe.each(FAMILIES)('%s', (_family, base) => {
    let user: TestUser;
    let url: string;
    beforeEachNewUser(base, (created, tasksUrl) => ((user = created), (url = tasksUrl)));

    it('should answer {tasks, count, total, limit, offset, has_more}, filters and paging kept', async () => {
      for (const [title, priority] of [
        ['b', 'high'],
        ['a', 'high'],
        ['x', 'low'],
        ['c', 'high'],
      ]) {
        await create(suite.http, url, user, { title, priority });
      }
      const first = await suite.http
        .get(`${url}?priority=high&sort=title&order=asc&limit=2`)
        .set(user.auth)
        .expect(200);

      expect(first.body).toEqual({
        tasks: [
          expect.objectContaining({ title: 'a', priority: 'high' }),
          expect.objectContaining({ title: 'b' }),
        ],
        count: 2,
        total: 3,
        limit: 2,
        offset: 0,
        has_more: true,
      });
      expect(first.headers['x-total-count']).toBe('3');
      const next = links(first).next;
      expect(next).toMatch(/priority=high/);
      expect(next).toMatch(/[?&]limit=2&offset=2$/);

      const second = await suite.http.get(next).set(user.auth).expect(200);
      expect(second.body).toEqual({
        tasks: [expect.objectContaining({ title: 'c' })],
        count: 1,
        total: 3,
        limit: 2,
        offset: 2,
        has_more: false,
      });
      expect(second.headers['x-total-count']).toBe('3');
      expect(Object.keys(links(second))).toEqual(['prev']);
    });

    it('should answer an empty list, and a page past the end, as envelopes', async () => {
      const empty = await suite.http.get(url).set(user.auth).expect(200);
      expect(empty.body).toEqual({
        tasks: [],
        count: 0,
        total: 0,
        limit: 1000,
        offset: 0,
        has_more: false,
      });
      expect(empty.headers['x-total-count']).toBe('0');

      await create(suite.http, url, user, { title: 'only' });
      const past = await suite.http.get(`${url}?offset=5&search=only`).set(user.auth).expect(200);
      expect(past.body).toMatchObject({
        tasks: [],
        count: 0,
        total: 1,
        offset: 5,
        has_more: false,
      });
      expect(past.headers['x-total-count']).toBe('1');
    });

    it('should leave the answers that are objects already as they are', async () => {
      const task = await create(suite.http, url, user, { title: 'done', completed: true });
      const changes = await suite.http.get(`${url}/changes`).set(user.auth).expect(200);
      expect(Object.keys(changes.body).sort()).toEqual([
        'cursor',
        'deleted_ids',
        'has_more',
        'tasks',
      ]);
      expect(changes.body.tasks).toEqual([task]);
      const stats = await suite.http.get(`${url}/stats`).set(user.auth).expect(200);
      expect(stats.body).toMatchObject({ total: 1, completed: 1 });
      await suite.http.delete(`${url}?status=completed`).set(user.auth).expect(200, { deleted: 1 });
    });
  });

  it('should answer a real Better Auth (JWKS) token in the envelope', async () => {
    const user = await betterAuthUser();
    const task = await create(suite.http, `/api/${user.id}/tasks`, user, { title: 'jwks' });
    for (const [, base] of FAMILIES) {
      const res = await suite.http.get(base(user)).set(user.auth).expect(200);
      expect(res.body).toEqual({
        tasks: [task],
        count: 1,
        total: 1,
        limit: 1000,
        offset: 0,
        has_more: false,
      });
    }
  });

  it('should document the envelope as the list answer of both families', async () => {
    const doc = await openApi(suite.http);

    for (const path of LIST_PATHS) {
      expect(listSchema(doc, path)).toEqual({
        schema: { $ref: '#/components/schemas/TaskListResponse' },
      });
      expect(doc.paths[path].get.responses['200'].description).toContain('LIST_RESPONSE=envelope');
    }
    expect(Object.keys(doc.components.schemas.TaskListResponse.properties)).toEqual([
      'tasks',
      'count',
      'total',
      'limit',
      'offset',
      'has_more',
    ]);
  });
});

describe('DELETE_RESPONSE=json', () => {
  const suite = useTestApp({ DELETE_RESPONSE: 'json' });

  describe.each(FAMILIES)('%s', (_family, base) => {
    let user: TestUser;
    let url: string;
    beforeEachNewUser(base, (created, tasksUrl) => ((user = created), (url = tasksUrl)));

    it('should answer 200 with the id and deleted: true, then 404 for the gone task', async () => {
      const task = await create(suite.http, url, user, { title: 'bye' });
      const res = await suite.http.delete(`${url}/${task.id}`).set(user.auth).expect(200);

      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ id: task.id, deleted: true });
      await suite.http.get(`${url}/${task.id}`).set(user.auth).expect(404);
      const again = await suite.http.delete(`${url}/${task.id}`).set(user.auth).expect(404);
      expect(again.body).toEqual({ detail: 'Task not found' });
    });

    it("should answer 404 for another user's task and leave it, 422 for a non-integer id", async () => {
      const other = await newUser();
      const theirs = await create(suite.http, '/api/tasks', other, { title: 'theirs' });

      const res = await suite.http.delete(`${url}/${theirs.id}`).set(user.auth).expect(404);
      expect(res.body).toEqual({ detail: 'Task not found' });
      await suite.http.get(`/api/tasks/${theirs.id}`).set(other.auth).expect(200);
      await suite.http.delete(`${url}/abc`).set(user.auth).expect(422);
    });

    it('should answer a stale If-Match 412 and delete nothing; a current one deletes', async () => {
      const created = await suite.http.post(url).set(user.auth).send({ title: 'v1' }).expect(201);
      const staleTag = created.headers.etag;
      const updated = await suite.http
        .patch(`${url}/${created.body.id}`)
        .set(user.auth)
        .send({ title: 'v2' })
        .expect(200);

      const stale = await suite.http
        .delete(`${url}/${created.body.id}`)
        .set(user.auth)
        .set('If-Match', staleTag)
        .expect(412);
      expect(stale.body.detail).toEqual(expect.any(String));
      await suite.http.get(`${url}/${created.body.id}`).set(user.auth).expect(200);

      await suite.http
        .delete(`${url}/${created.body.id}`)
        .set(user.auth)
        .set('If-Match', updated.headers.etag)
        .expect(200, { id: created.body.id, deleted: true });
    });

    it('should keep clear-completed as it was: 200 {"deleted": n}', async () => {
      await create(suite.http, url, user, { title: 'done', completed: true });
      await suite.http.delete(`${url}?status=completed`).set(user.auth).expect(200, { deleted: 1 });
    });
  });

  it('should answer a real Better Auth (JWKS) token with the JSON body', async () => {
    const user = await betterAuthUser();
    for (const [, base] of FAMILIES) {
      const task = await create(suite.http, base(user), user, { title: 'jwks' });
      await suite.http
        .delete(`${base(user)}/${task.id}`)
        .set(user.auth)
        .expect(200, { id: task.id, deleted: true });
    }
  });

  it('should document 200 with DeletedTaskResponse, and no 204, for both families', async () => {
    const doc = await openApi(suite.http);

    for (const path of ONE_PATHS) {
      const { responses } = doc.paths[path].delete;
      expect(responses).not.toHaveProperty('204');
      expect(responses['200'].content).toEqual({
        'application/json': { schema: { $ref: '#/components/schemas/DeletedTaskResponse' } },
      });
      expect(Object.keys(responses)).toEqual(expect.arrayContaining(['404', '412']));
    }
  });
});

describe('TASK_ID_TYPE=string', () => {
  const suite = useTestApp({ TASK_ID_TYPE: 'string' });

  describe.each(FAMILIES)('%s', (_family, base) => {
    let user: TestUser;
    let url: string;
    beforeEachNewUser(base, (created, tasksUrl) => ((user = created), (url = tasksUrl)));

    it('should write ids as strings on create, get, list, update and complete; ETag as before', async () => {
      const created = await suite.http.post(url).set(user.auth).send({ title: 'a' }).expect(201);
      const id = created.body.id as string;
      expect(id).toMatch(DIGITS);
      expect(created.body.next_task_id).toBeNull();
      expect(created.headers.etag).toBe(`"${id}-1"`);

      const read = await suite.http.get(`${url}/${id}`).set(user.auth).expect(200);
      expect(read.body).toEqual(created.body);
      // A path written from the number works the same.
      await suite.http
        .get(`${url}/${Number(id)}`)
        .set(user.auth)
        .expect(200, created.body);
      const list = await suite.http.get(url).set(user.auth).expect(200);
      expect(list.body).toEqual([created.body]);

      const patched = await suite.http
        .patch(`${url}/${id}`)
        .set(user.auth)
        .send({ title: 'b', id: 5 })
        .expect(200);
      expect(patched.body).toMatchObject({ id, title: 'b' });
      expect(patched.headers.etag).toBe(`"${id}-2"`);
      const put = await suite.http.put(`${url}/${id}`).set(user.auth).send({ title: 'c' });
      expect(put.body).toMatchObject({ id, title: 'c' });
      const done = await suite.http.patch(`${url}/${id}/complete`).set(user.auth).expect(200);
      expect(done.body).toMatchObject({ id, completed: true });
      await suite.http.get(`${url}/not-a-number`).set(user.auth).expect(422);
    });

    it('should write next_task_id as a string that names the next occurrence', async () => {
      const task = await create(suite.http, url, user, {
        title: 'water plants',
        due_date: '2026-12-01',
        recurrence: 'weekly',
      });
      const done = await suite.http.patch(`${url}/${task.id}/complete`).set(user.auth).expect(200);
      const next = done.body.next_task_id as string;

      expect(next).toMatch(DIGITS);
      const occurrence = await suite.http.get(`${url}/${next}`).set(user.auth).expect(200);
      expect(occurrence.body).toMatchObject({
        id: next,
        next_task_id: null,
        due_date: '2026-12-08T00:00:00.000Z',
      });
    });

    it('should write bulk ids as strings, taking ids as strings or numbers', async () => {
      const a = await create(suite.http, url, user, { title: 'a' });
      const b = await create(suite.http, url, user, { title: 'b' });

      const res = await suite.http
        .post(`${url}/bulk`)
        .set(user.auth)
        .send({ action: 'delete', ids: [a.id, Number(b.id), '999999999'] })
        .expect(200);

      expect(res.body).toEqual({ updated: [a.id, b.id], not_found: ['999999999'] });
    });

    it('should write the ids of the changes feed as strings, tasks and deleted ids alike', async () => {
      const keep = await create(suite.http, url, user, { title: 'keep' });
      const gone = await create(suite.http, url, user, { title: 'gone' });
      const first = await suite.http.get(`${url}/changes`).set(user.auth).expect(200);
      expect(first.body.tasks.map((t: Json) => t.id).sort()).toEqual([keep.id, gone.id].sort());

      await suite.http.delete(`${url}/${gone.id}`).set(user.auth).expect(204);
      const since = encodeURIComponent(first.body.cursor as string);
      const later = await suite.http.get(`${url}/changes?since=${since}`).set(user.auth);
      expect(later.body).toMatchObject({ tasks: [], deleted_ids: [gone.id] });
    });

    it('should replay an idempotent create and bulk with string ids', async () => {
      const key = `k-${Date.now()}-${Math.random()}`;
      const send = () =>
        suite.http.post(url).set(user.auth).set('Idempotency-Key', key).send({ title: 'once' });
      const first = await send().expect(201);
      const replay = await send().expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(replay.body.id).toMatch(DIGITS);

      const bulk = () =>
        suite.http
          .post(`${url}/bulk`)
          .set(user.auth)
          .set('Idempotency-Key', `${key}-bulk`)
          .send({ action: 'complete', ids: [first.body.id] });
      await bulk().expect(200, { updated: [first.body.id], not_found: [] });
      const again = await bulk().expect(200, { updated: [first.body.id], not_found: [] });
      expect(again.headers['idempotent-replayed']).toBe('true');
    });
  });

  it('should write string ids to a real Better Auth (JWKS) token', async () => {
    const user = await betterAuthUser();
    for (const [, base] of FAMILIES) {
      const task = await create(suite.http, base(user), user, { title: 'jwks' });
      expect(task.id).toMatch(DIGITS);
      await suite.http
        .get(`${base(user)}/${task.id}`)
        .set(user.auth)
        .expect(200, task);
    }
  });

  it('should document task ids as strings wherever they appear', async () => {
    const { schemas } = (await openApi(suite.http)).components;
    const string = { type: 'string', pattern: '^\\d+$' };

    expect(schemas.TaskResponse.properties.id).toMatchObject({ ...string, example: '17' });
    expect(schemas.TaskResponse.properties.next_task_id).toMatchObject({
      ...string,
      nullable: true,
    });
    expect(schemas.DeletedTaskResponse.properties.id).toMatchObject(string);
    expect(schemas.BulkResultResponse.properties.updated).toMatchObject({ items: string });
    expect(schemas.BulkResultResponse.properties.not_found).toMatchObject({ items: string });
    expect(schemas.ChangesResponse.properties.deleted_ids).toMatchObject({ items: string });
    expect(schemas.TaskResponse.properties.id.description).toContain('TASK_ID_TYPE=string');
  });
});

describe('TASK_ID_TYPE changed while an idempotency key is kept', () => {
  const integers = useTestApp();
  const strings = useTestApp({ TASK_ID_TYPE: 'string' });

  it('should replay the stored answer with the ids the current setting writes', async () => {
    const user = await newUser();
    const key = `switch-${Date.now()}-${Math.random()}`;
    const send = (http: Http) =>
      http.post('/api/tasks').set(user.auth).set('Idempotency-Key', key).send({ title: 'once' });

    const first = await send(integers.http).expect(201);
    expect(first.body.id).toEqual(expect.any(Number));
    const replayed = await send(strings.http).expect(201);

    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.body).toEqual({ ...first.body, id: String(first.body.id) });
    const back = await send(integers.http).expect(201);
    expect(back.body).toEqual(first.body);
  });
});

describe('DEFAULT_PAGE_SIZE=50', () => {
  const suite = useTestApp({ DEFAULT_PAGE_SIZE: '50' });

  it.each(FAMILIES)(
    'should page 105 tasks by 50 without a limit, Link leading to every page (%s)',
    async (_family, base) => {
      const user = await newUser();
      const url = base(user);
      await createMany(suite.http, url, user, 105);

      const seen: string[] = [];
      let next: string | undefined = url;
      const sizes: number[] = [];
      while (next) {
        const res: Response = await suite.http.get(next).set(user.auth).expect(200);
        expect(res.headers['x-total-count']).toBe('105');
        sizes.push(res.body.length);
        seen.push(...res.body.map((task: Json) => task.title));
        next = links(res).next;
        if (sizes.length === 1) expect(next).toMatch(/[?&]limit=50&offset=50$/);
      }

      expect(sizes).toEqual([50, 50, 5]);
      expect(new Set(seen).size).toBe(105);
      const all = await suite.http.get(`${url}?limit=200`).set(user.auth).expect(200);
      expect(all.body).toHaveLength(105);
    },
  );

  it('should page a real Better Auth (JWKS) token by 50 too', async () => {
    const user = await betterAuthUser();
    await createMany(suite.http, '/api/tasks', user, 51);
    const res = await suite.http.get(`/api/${user.id}/tasks`).set(user.auth).expect(200);

    expect(res.body).toHaveLength(50);
    expect(res.headers['x-total-count']).toBe('51');
    expect(links(res).next).toMatch(/[?&]limit=50&offset=50$/);
  });

  it('should document 50 as the default limit', async () => {
    const doc = await openApi(suite.http);
    for (const path of LIST_PATHS) {
      const limit = (doc.paths[path].get.parameters as Json[]).find((p) => p.name === 'limit');
      expect(limit?.schema).toMatchObject({ default: 50, maximum: 1000 });
    }
  });
});

describe('Every compatibility setting at once', () => {
  const suite = useTestApp({
    LIST_RESPONSE: 'envelope',
    DELETE_RESPONSE: 'json',
    TASK_ID_TYPE: 'string',
    DEFAULT_PAGE_SIZE: '2',
  });

  it('should combine them: string ids inside the envelope and the DELETE body', async () => {
    const user = await betterAuthUser();
    for (const [, base] of FAMILIES) {
      const url = base(user);
      for (const title of ['a', 'b', 'c']) await create(suite.http, url, user, { title });
      const page = await suite.http.get(url).set(user.auth).expect(200);
      expect(page.body).toMatchObject({ count: 2, total: 3, limit: 2, offset: 0, has_more: true });
      const [first] = page.body.tasks as Json[];
      expect(first.id).toMatch(DIGITS);
      await suite.http
        .delete(`${url}/${first.id as string}`)
        .set(user.auth)
        .expect(200, { id: first.id, deleted: true });
      for (const task of (await suite.http.get(`${url}?limit=10`).set(user.auth)).body.tasks) {
        await suite.http
          .delete(`${url}/${(task as Json).id as string}`)
          .set(user.auth)
          .expect(200);
      }
    }
  });
});

describe('A bad compatibility setting', () => {
  it.each([
    ['LIST_RESPONSE', 'object'],
    ['DELETE_RESPONSE', '204'],
    ['TASK_ID_TYPE', 'uuid'],
    ['DEFAULT_PAGE_SIZE', '0'],
    ['DEFAULT_PAGE_SIZE', '5000'],
  ])('should stop start-up at %s=%s, naming it', async (name, value) => {
    await expect(createTestApp({ [name]: value })).rejects.toThrow(
      new RegExp(`^\\s+- ${name}: `, 'm'),
    );
  });
});
