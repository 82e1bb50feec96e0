import type { Response as TestResponse } from 'supertest';
import fc from 'fast-check';
import { useTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

/**
 * Property-based tests of the wire contract (CONTRACT.md): random and near-valid input on the
 * writing routes and on the list query never gets a 5xx, errors are FastAPI-shaped, and whatever
 * is accepted keeps the task's invariants. Each property has its own users, so properties (and
 * other suites sharing the database) never see each other's tasks.
 */

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Family = 'token' | 'user';
type Method = 'get' | 'post' | 'put' | 'patch';

const TASK_KEYS = [
  'completed',
  'completed_at',
  'created_at',
  'description',
  'due_date',
  'id',
  'next_task_id',
  'priority',
  'recurrence',
  'recurrence_until',
  'remind_at',
  'tags',
  'title',
  'updated_at',
  'user_id',
];
const UPDATABLE = [
  'title',
  'description',
  'completed',
  'priority',
  'tags',
  'due_date',
  'remind_at',
  'recurrence',
  'recurrence_until',
] as const;
const PRIORITIES = ['low', 'medium', 'high'];
const RECURRENCES = ['daily', 'weekly', 'monthly', 'yearly'];
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const QUERY_KEYS = [
  'status',
  'priority',
  'tags',
  'due_before',
  'due_after',
  'overdue',
  'search',
  'q',
  'sort',
  'sort_by',
  'order',
  'updated_since',
  'limit',
  'offset',
];

const RUNS = { create: 150, update: 100, bulk: 100, query: 150 };

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function isWellFormed(text: string): boolean {
  return !new RegExp(LONE_SURROGATE.source).test(text);
}

/** What a UTF-8 round trip makes of a string: each lone surrogate becomes U+FFFD. */
function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/** Strings that have broken parsers, validators, SQL and date handling before. */
const NASTY_STRINGS = [
  '',
  ' ',
  ' \t\n ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'a\udfffb',
  '\u202e\u202d',
  '\ufeff',
  '\u3000',
  '🙂',
  '👩‍👩‍👧‍👦',
  'e\u0301',
  'x'.repeat(200) + '\ufe0f',
  'x'.repeat(201),
  ' '.repeat(300) + 'x',
  'x'.repeat(1001),
  'x'.repeat(20_000),
  "%' OR 1=1 --",
  "'; DROP TABLE task; --",
  '%',
  '_',
  '\\',
  'null',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  '2027-02-30',
  '2026-13-01',
  '0000-01-01',
  '10000-01-01',
  '2026-12-01T24:00:00Z',
  '2026-12-01T10:00:00+99:99',
  '9999-12-31T23:59:59.999-23:59',
  'HIGH',
  ' Low ',
  'DAILY',
  'hourly',
  '__proto__',
  'constructor',
  '<script>alert(1)</script>',
];

/** `{"__proto__": …, "constructor": …}` as own keys, the way a JSON parser sees them. */
const PROTO_OBJECT: unknown = JSON.parse(
  '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}',
);

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 4 },
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, -0, 2 ** 31, 2 ** 53 + 2, 1e308),
  fc.double(),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  fc.constant(PROTO_OBJECT),
);

/** Mostly a valid value for the field, sometimes something nasty. */
const field = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: nastyValue, weight: 1 });

const FORMATS: ((d: Date) => string)[] = [
  (d) => d.toISOString(),
  (d) => d.toISOString().slice(0, 10),
  (d) => d.toISOString().slice(0, 16),
  (d) => d.toISOString().replace('Z', '+05:30'),
  (d) => d.toISOString().replace('T', ' ').replace('Z', '-0800'),
];
const dateBetween = (min: string, max: string) =>
  fc.date({ min: new Date(min), max: new Date(max), noInvalidDate: true });
const isoString = fc
  .tuple(
    fc.oneof(
      { arbitrary: dateBetween('1970-01-01T00:00:00Z', '2100-12-31T23:59:59Z'), weight: 4 },
      // The whole range JSON clients can write: years 0001–9999, the first centuries included.
      dateBetween('0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z'),
      dateBetween('0001-01-01T00:00:00Z', '0200-12-31T23:59:59.999Z'),
    ),
    fc.nat({ max: FORMATS.length - 1 }),
  )
  .map(([date, format]) => FORMATS[format](date));
const timestampOrNull = fc.oneof(isoString, fc.constant(null));

/** Valid-typed text that is still hostile: control characters, NUL, lone surrogates, RTL, ZWJ. */
const WEIRD_TEXT = [
  'a\u0000b',
  '\u0000',
  'tab\there',
  'line\nbreak',
  'a\ud800b',
  '\udfff',
  '\u202eevil',
  'zero\u200bwidth',
  '👩‍👩‍👧‍👦 family',
  'e\u0301',
  'O\'Reilly "quoted" \\ back',
  "%' OR 1=1 --",
  '100% _done_',
];
const text = (minLength: number, maxLength: number) =>
  fc.oneof(
    { arbitrary: fc.string({ unit: 'grapheme', minLength, maxLength }), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', minLength, maxLength }), weight: 1 },
    { arbitrary: fc.constantFrom(...WEIRD_TEXT), weight: 2 },
  );

const title = fc.oneof(
  { arbitrary: text(1, 60), weight: 4 },
  fc.constantFrom('Buy milk', '  padded  ', 'x'.repeat(200), ' '.repeat(10) + 'x'.repeat(200)),
);
const tag = fc.oneof(
  { arbitrary: text(1, 20), weight: 3 },
  fc.constantFrom('work', 'Work', ' WORK ', 'home', 'x'.repeat(50)),
);
const tags = fc.oneof(
  { arbitrary: fc.array(tag, { maxLength: 8 }), weight: 12 },
  // Duplicates, blanks, over-long strings, non-strings, too many.
  fc.array(fc.oneof(tag, fc.constantFrom('', '  ', 'x'.repeat(51)), nastyValue), {
    maxLength: 8,
  }),
  fc.array(tag, { minLength: 19, maxLength: 24 }),
);

const taskFields = {
  title: field(title),
  description: field(fc.oneof(fc.constant(null), text(0, 80), fc.string({ maxLength: 1000 }))),
  completed: field(fc.boolean()),
  priority: field(fc.constantFrom('low', 'medium', 'high', 'HIGH', ' Low ', 'mEdIuM')),
  tags: field(tags),
  due_date: field(timestampOrNull),
  remind_at: field(timestampOrNull),
  // Mostly null: a recurrence without a due_date is a (valid) 422 and would swamp the 201s.
  recurrence: field(
    fc.oneof(
      { arbitrary: fc.constant(null), weight: 3 },
      fc.constantFrom('daily', 'weekly', 'monthly', 'yearly', 'Weekly'),
    ),
  ),
  recurrence_until: field(timestampOrNull),
};

/** Keys a client may send but never set, plus junk and prototype-ish names. */
const extraKeys = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'id',
      'user_id',
      'created_at',
      'updated_at',
      'completed_at',
      'next_task_id',
      'owner',
      'is_admin',
      '__proto__',
      'constructor',
      'prototype',
      'Title',
    ),
    fc.string({ maxLength: 10 }),
  ),
  nastyValue,
  { maxKeys: 3 },
);

/** Merges as own enumerable keys (a plain assignment to `__proto__` would set the prototype). */
function merge(...objects: object[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const object of objects) {
    for (const [key, value] of Object.entries(object)) {
      Object.defineProperty(result, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return result;
}

const nearValid = (requiredKeys: (keyof typeof taskFields)[]) =>
  fc
    .tuple(extraKeys, fc.record(taskFields, { requiredKeys }))
    .map(([extras, fields]) => merge(extras, fields));

/** A body for create or update: arbitrary JSON or a near-valid task. */
const taskBody = (requiredKeys: (keyof typeof taskFields)[]) =>
  fc.oneof(
    { arbitrary: fc.jsonValue(), weight: 1 },
    { arbitrary: fc.object(), weight: 1 },
    { arbitrary: nearValid(requiredKeys), weight: 6 },
  );

/** A bulk id, resolved when the run starts: one of the caller's tasks, the other user's, or raw. */
class IdRef {
  constructor(
    readonly kind: 'own' | 'foreign',
    readonly index = 0,
  ) {}
  [fc.toStringMethod](): string {
    return this.kind === 'own' ? `own[${this.index}]` : 'foreign';
  }
}
const rawId = fc.oneof(
  { arbitrary: fc.integer(), weight: 2 },
  fc.constantFrom(0, -0, -1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e20, 1e308),
);
const junkId = fc.oneof(
  fc.constantFrom(1.5, -0.5, '1', '', 'abc', null, true, [], {}),
  fc.double(),
);
const bulkId = fc.oneof(
  { arbitrary: fc.nat({ max: 9 }).map((i) => new IdRef('own', i)), weight: 8 },
  { arbitrary: fc.constant(new IdRef('foreign')), weight: 4 },
  { arbitrary: rawId, weight: 4 },
  { arbitrary: junkId, weight: 1 },
);
const bulkBody = fc.oneof(
  { arbitrary: fc.jsonValue(), weight: 1 },
  {
    arbitrary: fc
      .tuple(
        extraKeys,
        fc.record(
          {
            action: fc.oneof(
              { arbitrary: fc.constantFrom('complete', 'reopen', 'delete'), weight: 8 },
              fc.constantFrom('COMPLETE', 'archive', ''),
              nastyValue,
            ),
            ids: fc.oneof(
              { arbitrary: fc.array(bulkId, { minLength: 1, maxLength: 12 }), weight: 8 },
              fc.constant([]),
              { arbitrary: nastyValue, weight: 1 },
              // Around the 500-id limit.
              {
                arbitrary: fc
                  .integer({ min: 498, max: 503 })
                  .map((n) => Array.from({ length: n }, (_, k) => k + 1)),
                weight: 1,
              },
            ),
          },
          { requiredKeys: ['action', 'ids'] },
        ),
      )
      .map(([extras, fields]) => merge(extras, fields)),
    weight: 8,
  },
);

/** A query-string value: sent encoded, or raw (already percent-encoded, possibly badly). */
interface QueryPair {
  key: string;
  value?: string;
  raw?: boolean;
}
/** Values each real parameter accepts (and a few near misses). */
const VALID_QUERY: Record<string, string[]> = {
  status: ['all', 'pending', 'completed', 'incomplete', 'ACTIVE', ' Completed '],
  priority: ['high', 'low,medium', ' high , LOW ', 'high,', 'urgent'],
  tags: ['work', 'work,home', 'WORK', ',,', 'x'.repeat(60)],
  due_before: ['2026-01-01', '2026-01-01T10:00:00Z', '2026-01-01T10:00:00+05:30', '2027-02-30'],
  due_after: ['2020-01-01', '2026-01-01 10:00', '1970-01-01T00:00:00.000Z', 'yesterday'],
  overdue: ['true', 'false', '1', '0', 'yes'],
  search: ['done', '100%', 'snake_', '_', '%', "O'Reilly", "%' OR 1=1 --", '\\', 'DONE', 'a\u0000'],
  q: ['done', '%', '_', 'reilly', "'; DROP TABLE task; --", '\u0000'],
  sort: ['created', 'updated', 'created_at', 'due_date', 'priority', 'title', 'TITLE', 'id'],
  sort_by: ['created', 'updated_at', 'due_date', 'priority', 'title', 'user_id'],
  order: ['asc', 'desc', 'DESC', 'up'],
  updated_since: ['2020-01-01T00:00:00Z', '2100-01-01', '0000-01-01', '2026-13-01'],
  limit: ['1', '10', '1000', '1001', '0', '-1', '1e3', '1.0', '+5', ' 7 '],
  offset: ['0', '1', '3', '-1', '99999999999999999999', '9007199254740993', '2147483648'],
};
const JUNK_KEYS = [
  'priority[]',
  'status[0]',
  'tags[a][b]',
  'sort[$ne]',
  '__proto__',
  '__proto__[polluted]',
  'constructor[prototype][polluted]',
  'limit[]',
  'user_id',
  '',
];
/** Well-formed (a URL cannot carry a lone surrogate) and short enough for a URL. */
const nastyQueryValue = fc.oneof(
  fc.constantFrom(
    ...[...NASTY_STRINGS, ...WEIRD_TEXT].filter((v) => isWellFormed(v) && v.length < 300),
  ),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
);
const RAW_QUERY_VALUES = ['%', '%zz', '%00', '%ED%A0%80', '%C0%AF', 'a%2Cb', '[]', '=', '%25_'];
const queryPair: fc.Arbitrary<QueryPair> = fc.oneof(
  // A real parameter with a value it accepts, or nearly.
  {
    arbitrary: fc.oneof(
      ...QUERY_KEYS.map((key) =>
        fc.record({ key: fc.constant(key), value: fc.constantFrom(...VALID_QUERY[key]) }),
      ),
    ),
    weight: 8,
  },
  // A real parameter with a hostile value, or none at all.
  {
    arbitrary: fc.record(
      { key: fc.constantFrom(...QUERY_KEYS), value: nastyQueryValue },
      { requiredKeys: ['key'] },
    ),
    weight: 2,
  },
  // Junk keys (brackets, prototype names, random text) with any value.
  {
    arbitrary: fc.record(
      {
        key: fc.oneof(fc.constantFrom(...JUNK_KEYS), fc.string({ maxLength: 8 })),
        value: fc.oneof(fc.constantFrom('1', 'x', 'high'), nastyQueryValue),
      },
      { requiredKeys: ['key'] },
    ),
    weight: 1,
  },
  // Raw, possibly broken, percent-encoding.
  {
    arbitrary: fc.record({
      key: fc.constantFrom(...QUERY_KEYS),
      value: fc.constantFrom(...RAW_QUERY_VALUES),
      raw: fc.constant(true),
    }),
    weight: 1,
  },
);

function queryString(pairs: QueryPair[]): string {
  return pairs
    .map(({ key, value, raw }) => {
      if (value === undefined) return encodeURIComponent(key);
      return `${encodeURIComponent(key)}=${raw ? value : encodeURIComponent(value)}`;
    })
    .join('&');
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

const length = (text: string) => [...text].length;

/** Every invariant of a task as the contract puts it on the wire. */
function expectValidTask(task: Json, userId: string): void {
  expect(Object.keys(task).sort()).toEqual(TASK_KEYS);
  expect(task.user_id).toBe(userId);
  expect(Number.isSafeInteger(task.id) && task.id > 0).toBe(true);

  expect(typeof task.title).toBe('string');
  expect(task.title).toBe(task.title.trim());
  expect(length(task.title)).toBeGreaterThanOrEqual(1);
  expect(length(task.title)).toBeLessThanOrEqual(200);
  if (task.description !== null) {
    expect(typeof task.description).toBe('string');
    expect(length(task.description)).toBeLessThanOrEqual(1000);
  }
  expect(typeof task.completed).toBe('boolean');
  expect(PRIORITIES).toContain(task.priority);

  expect(Array.isArray(task.tags)).toBe(true);
  expect(task.tags.length).toBeLessThanOrEqual(20);
  for (const t of task.tags) {
    expect(typeof t).toBe('string');
    expect(t).toBe(t.trim());
    expect(length(t)).toBeGreaterThanOrEqual(1);
    expect(length(t)).toBeLessThanOrEqual(50);
  }
  expect(new Set(task.tags.map((t: string) => t.toLowerCase())).size).toBe(task.tags.length);

  for (const key of ['due_date', 'remind_at', 'recurrence_until', 'completed_at']) {
    if (task[key] !== null) expect(task[key]).toMatch(ISO_UTC);
  }
  expect(task.created_at).toMatch(ISO_UTC);
  expect(task.updated_at).toMatch(ISO_UTC);
  if (task.recurrence !== null) {
    expect(RECURRENCES).toContain(task.recurrence);
    expect(task.due_date).not.toBeNull();
  }
  expect(task.completed_at === null).toBe(!task.completed);
  expect(task.next_task_id === null || Number.isSafeInteger(task.next_task_id)).toBe(true);
}

/** The instant a timestamp sent in UTC (date-only or full ISO) must come back as. */
function expectedInstant(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  if (/^\d{4}-\d\d-\d\d$/.test(text)) return `${text}T00:00:00.000Z`;
  return ISO_UTC.test(text) ? text : undefined;
}

/** Timestamps that were sent come back as the same instant. */
function expectTimestampsKept(sent: Record<string, unknown>, task: Json): void {
  for (const key of ['due_date', 'remind_at', 'recurrence_until']) {
    const expected = expectedInstant(sent[key]);
    if (expected !== undefined) expect([key, task[key]]).toEqual([key, expected]);
  }
}

function expectErrorBody(res: TestResponse): void {
  expect(res.body).toHaveProperty('detail');
}

/** The app runs in this process: a prototype-polluting body would show up here. */
function expectNoPollution(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('Properties (fast-check)', () => {
  const suite = useTestApp();

  const tasksUrl = (user: TestUser, family: Family) =>
    family === 'token' ? '/api/tasks' : `/api/${encodeURIComponent(user.id)}/tasks`;

  /** Sends `body` as JSON text exactly as generated (top-level scalars included). */
  const send = (method: Method, url: string, user: TestUser, body?: unknown) => {
    const req = suite.http[method](url).set(user.auth);
    return body === undefined
      ? req
      : req.set('Content-Type', 'application/json').send(JSON.stringify(body));
  };
  const getTask = async (user: TestUser, id: number) =>
    (await send('get', `/api/tasks/${id}`, user).expect(200)).body;
  const createTask = async (user: TestUser, body: object) =>
    (await send('post', '/api/tasks', user, body).expect(201)).body;
  const family = fc.constantFrom<Family>('token', 'user');

  it('create: any body is 201 with a valid task, or 422 with a detail; never 5xx', async () => {
    const user = await newUser();
    await fc.assert(
      fc.asyncProperty(taskBody(['title']), family, async (body, fam) => {
        const res = await send('post', tasksUrl(user, fam), user, body);
        expect([201, 422]).toContain(res.status);
        expectNoPollution();
        if (res.status !== 201) return expectErrorBody(res);

        const task = res.body;
        expectValidTask(task, user.id);
        const sent = body as Record<string, unknown>;
        expect(task.title).toBe(wellFormed((sent.title as string).trim()));
        expect(task.completed).toBe(sent.completed ?? false);
        expect(task.next_task_id).toBeNull();
        expectTimestampsKept(sent, task);
        if (typeof sent.priority === 'string') {
          expect(task.priority).toBe(sent.priority.trim().toLowerCase());
        }
      }),
      { numRuns: RUNS.create },
    );
  }, 60_000);

  it('update: PATCH/PUT is 200 merging only what was sent, or 422 changing nothing', async () => {
    const user = await newUser();
    const { id } = await createTask(user, {
      title: 'Seed',
      tags: ['seed'],
      due_date: '2026-12-01',
      recurrence: 'weekly',
    });
    await fc.assert(
      fc.asyncProperty(
        taskBody([]),
        fc.constantFrom<Method>('patch', 'put'),
        family,
        async (body, method, fam) => {
          const before = await getTask(user, id);
          const res = await send(method, `${tasksUrl(user, fam)}/${id}`, user, body);
          expect([200, 422]).toContain(res.status);
          expectNoPollution();
          const after = await getTask(user, id);

          if (res.status !== 200) {
            expectErrorBody(res);
            expect(after).toEqual(before);
            return;
          }
          expectValidTask(res.body, user.id);
          expect(after).toEqual(res.body);
          for (const key of ['id', 'user_id', 'created_at']) expect(after[key]).toBe(before[key]);
          const sent = body as Record<string, unknown>;
          for (const key of UPDATABLE) {
            if (!Object.hasOwn(sent, key)) expect([key, after[key]]).toEqual([key, before[key]]);
          }
          if (!Object.hasOwn(sent, 'completed'))
            expect(after.completed_at).toBe(before.completed_at);
          expectTimestampsKept(sent, after);
          if (typeof sent.title === 'string')
            expect(after.title).toBe(wellFormed(sent.title.trim()));
        },
      ),
      { numRuns: RUNS.update },
    );
  }, 60_000);

  it("bulk: never 5xx; another user's ids are not found and their tasks untouched", async () => {
    const owner = await newUser();
    const other = await newUser();
    const foreign = await createTask(other, { title: 'Not yours', tags: ['private'] });
    const seed = (n: number) =>
      createTask(owner, {
        title: `Mine ${n}`,
        ...(n % 3 === 0 ? { due_date: '2026-12-01', recurrence: 'daily' } : {}),
      });
    for (let n = 0; n < 6; n++) await seed(n);

    await fc.assert(
      fc.asyncProperty(bulkBody, family, async (generated, fam) => {
        // The caller's tasks as they are now (completing a recurring one adds an occurrence).
        let mine = (await send('get', '/api/tasks?limit=1000', owner).expect(200)).body as Json[];
        for (let n = mine.length; n < 4; n++) mine.push(await seed(n));
        const ownIds = mine.map((task) => task.id as number);
        const resolve = (id: unknown) =>
          id instanceof IdRef
            ? id.kind === 'own'
              ? ownIds[id.index % ownIds.length]
              : foreign.id
            : id;
        const shaped = generated as Json;
        const body =
          shaped !== null && typeof shaped === 'object' && Array.isArray(shaped.ids)
            ? merge(shaped, { ids: shaped.ids.map(resolve) })
            : shaped;

        const res = await send('post', `${tasksUrl(owner, fam)}/bulk`, owner, body);
        expect([200, 422]).toContain(res.status);
        expectNoPollution();
        await send('get', `/api/tasks/${foreign.id}`, other).expect(200, foreign);
        if (res.status !== 200) return expectErrorBody(res);

        // As the server parsed them: a string of digits is an id too (frontends that keep ids
        // as strings send them back so), and `-0` is `0` on the wire.
        const parsed = (body as { ids: unknown[] }).ids.map((id) =>
          typeof id === 'string' && /^[+-]?\d{1,16}$/.test(id.trim()) ? Number(id) : id,
        );
        const ids: number[] = JSON.parse(JSON.stringify(parsed));
        const { updated, not_found: notFound } = res.body;
        expect(Object.keys(res.body).sort()).toEqual(['not_found', 'updated']);
        expect([...updated, ...notFound].sort()).toEqual([...new Set(ids)].sort());
        for (const id of updated) expect(ownIds).toContain(id);
        for (const id of ids) {
          if (id === foreign.id) expect(notFound).toContain(id);
          if (ownIds.includes(id)) expect(updated).toContain(id);
        }
        mine = (await send('get', '/api/tasks?limit=1000', owner).expect(200)).body;
        for (const task of mine) expectValidTask(task, owner.id);
      }),
      { numRuns: RUNS.bulk },
    );
    await send('get', `/api/tasks/${foreign.id}`, other).expect(200, foreign);
  }, 60_000);

  it('list: any query string is 200 with only the caller’s tasks, or 422 on the query', async () => {
    const user = await newUser();
    await createTask(user, { title: '100% done', priority: 'high', tags: ['work'] });
    await createTask(user, { title: 'snake_case', description: "O'Reilly", tags: ['home'] });
    await createTask(user, { title: 'Overdue', due_date: '2020-01-01', priority: 'low' });
    await createTask(user, { title: 'Done', completed: true, due_date: '2030-01-01' });

    await fc.assert(
      fc.asyncProperty(fc.array(queryPair, { maxLength: 4 }), family, async (pairs, fam) => {
        const res = await send('get', `${tasksUrl(user, fam)}?${queryString(pairs)}`, user);
        expect([200, 422]).toContain(res.status);
        expectNoPollution();
        if (res.status !== 200) {
          expectErrorBody(res);
          expect(res.body.detail[0].loc[0]).toBe('query');
          return;
        }
        expect(Array.isArray(res.body)).toBe(true);
        expect(res.headers['x-total-count']).toMatch(/^\d+$/);
        for (const task of res.body) expectValidTask(task, user.id);

        // A single plain-ASCII search term matches literally (`%` and `_` included).
        const terms = pairs.filter((p) => p.key === 'search' || p.key === 'q');
        const term = terms.length === 1 && !terms[0].raw ? terms[0].value : undefined;
        if (term && /^[\x20-\x7e]+$/.test(term)) {
          for (const task of res.body) {
            const text = `${task.title}\n${task.description ?? ''}`.toLowerCase();
            expect(text).toContain(term.toLowerCase());
          }
        }
      }),
      { numRuns: RUNS.query },
    );
  }, 60_000);
});
