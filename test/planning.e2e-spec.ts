import { createTask, Task, useTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

describe('Planning fields, filters, search and sort', () => {
  const suite = useTestApp();
  let user: TestUser;
  beforeEach(async () => {
    user = await newUser();
  });

  const create = (body: object) => createTask(suite.http, user, body);
  const titles = async (query: string) =>
    ((await suite.http.get(`/api/tasks?${query}`).set(user.auth).expect(200)).body as Task[]).map(
      (t) => t.title,
    );

  describe('fields', () => {
    it('should normalise priority, tags and dates', async () => {
      const task = await create({
        title: 'Plan',
        priority: 'HIGH',
        tags: [' work ', 'Work', 'home', 'WORK'],
        due_date: '2026-12-01',
        remind_at: '2026-11-30T18:00:00+01:00',
        recurrence: 'Weekly',
        recurrence_until: '2027-03-01T00:00:00Z',
      });
      expect(task).toMatchObject({
        priority: 'high',
        tags: ['work', 'home'],
        due_date: '2026-12-01T00:00:00.000Z',
        remind_at: '2026-11-30T17:00:00.000Z',
        recurrence: 'weekly',
        recurrence_until: '2027-03-01T00:00:00.000Z',
        completed_at: null,
        next_task_id: null,
      });
    });

    it('should refuse bad values with 422 naming the field', async () => {
      const cases: [object, string][] = [
        [{ title: 'x', priority: 'urgent' }, 'priority'],
        [{ title: 'x', priority: null }, 'priority'],
        [{ title: 'x', tags: 'work' }, 'tags'],
        [{ title: 'x', tags: [''] }, 'tags'],
        [{ title: 'x', tags: ['x'.repeat(51)] }, 'tags'],
        [{ title: 'x', tags: [1] }, 'tags'],
        [{ title: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags'],
        [{ title: 'x', due_date: '2027-02-30' }, 'due_date'],
        [{ title: 'x', due_date: 'tomorrow' }, 'due_date'],
        [{ title: 'x', remind_at: 1764000000 }, 'remind_at'],
        [{ title: 'x', recurrence: 'hourly', due_date: '2026-12-01' }, 'recurrence'],
        [{ title: 'x', recurrence: 'daily' }, 'recurrence'],
      ];
      for (const [body, field] of cases) {
        const res = await suite.http.post('/api/tasks').set(user.auth).send(body);
        expect([field, res.status]).toEqual([field, 422]);
        expect(res.body.detail[0].loc).toEqual(['body', field]);
      }
      expect(await titles('')).toEqual([]);
    });

    it('should accept 20 tags after removing duplicates, and completed_at follows completed', async () => {
      const tags = [...Array.from({ length: 20 }, (_, i) => `t${i}`), 'T0', 't1'];
      const task = await create({ title: 'many tags', tags });
      expect(task.tags).toHaveLength(20);

      const done = await suite.http
        .patch(`/api/tasks/${task.id}`)
        .set(user.auth)
        .send({ completed: true })
        .expect(200);
      expect(Date.parse(done.body.completed_at)).toBeGreaterThan(Date.now() - 60_000);
      const reopened = await suite.http
        .patch(`/api/tasks/${task.id}/complete`)
        .set(user.auth)
        .expect(200);
      expect(reopened.body).toMatchObject({ completed: false, completed_at: null });
    });

    it('should keep recurrence needing a due_date on update', async () => {
      const task = await create({ title: 'r', due_date: '2026-12-01', recurrence: 'daily' });
      const res = await suite.http
        .patch(`/api/tasks/${task.id}`)
        .set(user.auth)
        .send({ due_date: null })
        .expect(422);
      expect(res.body.detail[0].loc).toEqual(['body', 'recurrence']);
      await suite.http
        .patch(`/api/tasks/${task.id}`)
        .set(user.auth)
        .send({ due_date: null, recurrence: null })
        .expect(200);
    });
  });

  describe('filters', () => {
    beforeEach(async () => {
      const past = new Date(Date.now() - 86_400_000).toISOString();
      const future = new Date(Date.now() + 86_400_000).toISOString();
      await create({ title: 'A overdue', priority: 'high', tags: ['Work'], due_date: past });
      await create({
        title: 'B done',
        priority: 'low',
        tags: ['home'],
        due_date: past,
        completed: true,
      });
      await create({ title: 'C later', priority: 'medium', tags: ['work', 'x'], due_date: future });
      await create({ title: 'D someday', priority: 'low', description: '100% sure_thing' });
    });

    it('should filter by priority, tags (any, case-insensitive) and due window', async () => {
      expect(await titles('priority=high')).toEqual(['A overdue']);
      expect(await titles('priority=HIGH,medium&sort=title&order=asc')).toEqual([
        'A overdue',
        'C later',
      ]);
      expect(await titles('tags=work&sort=title&order=asc')).toEqual(['A overdue', 'C later']);
      expect(await titles('tags=home,x&sort=title&order=asc')).toEqual(['B done', 'C later']);
      const now = new Date().toISOString();
      expect(await titles(`due_before=${now}&sort=title&order=asc`)).toEqual([
        'A overdue',
        'B done',
      ]);
      expect(await titles(`due_after=${now}`)).toEqual(['C later']);
      expect(await titles('overdue=true')).toEqual(['A overdue']);
      expect(await titles('overdue=false&sort=title&order=asc')).toEqual([
        'B done',
        'C later',
        'D someday',
      ]);
      expect(await titles('status=pending&priority=low')).toEqual(['D someday']);
    });

    it('should search title and description case-insensitively with literal % and _', async () => {
      expect(await titles('search=LATER')).toEqual(['C later']);
      expect(await titles('q=sure_thing')).toEqual(['D someday']);
      expect(await titles('search=100%25')).toEqual(['D someday']);
      expect(await titles('search=%25')).toEqual(['D someday']);
      expect(await titles('search=_')).toEqual(['D someday']);
      expect(await titles('search=sure%25thing')).toEqual([]);
    });

    it('should sort by each field, both directions, ties by id in the same direction', async () => {
      expect(await titles('sort=title&order=asc')).toEqual([
        'A overdue',
        'B done',
        'C later',
        'D someday',
      ]);
      expect(await titles('sort_by=title&order=desc')).toEqual([
        'D someday',
        'C later',
        'B done',
        'A overdue',
      ]);
      // high first when descending; the two lows tie, broken by id descending (D after B).
      expect(await titles('sort=priority&order=desc')).toEqual([
        'A overdue',
        'C later',
        'D someday',
        'B done',
      ]);
      expect(await titles('sort=priority&order=asc')).toEqual([
        'B done',
        'D someday',
        'C later',
        'A overdue',
      ]);
      // Without a due date: last in both orders. A and B share a due date: ties by id.
      expect(await titles('sort=due_date&order=asc')).toEqual([
        'A overdue',
        'B done',
        'C later',
        'D someday',
      ]);
      expect(await titles('sort=due_date&order=desc')).toEqual([
        'C later',
        'B done',
        'A overdue',
        'D someday',
      ]);
      expect(await titles('sort=created&order=asc')).toEqual([
        'A overdue',
        'B done',
        'C later',
        'D someday',
      ]);
      expect(await titles('')).toEqual(['D someday', 'C later', 'B done', 'A overdue']);
    });

    it('should list what changed after updated_since', async () => {
      const all = (await suite.http.get('/api/tasks').set(user.auth)).body as Task[];
      const since = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const target = all.find((t) => t.title === 'B done') as Task;
      await suite.http
        .patch(`/api/tasks/${target.id}`)
        .set(user.auth)
        .send({ priority: 'high' })
        .expect(200);
      expect(await titles(`updated_since=${since}`)).toEqual(['B done']);
    });

    it('should answer 422 naming the parameter for invalid query values', async () => {
      for (const [query, param] of [
        ['sort=colour', 'sort'],
        ['sort_by=id', 'sort_by'],
        ['order=up', 'order'],
        ['priority=urgent', 'priority'],
        ['due_before=2027-02-30', 'due_before'],
        ['due_after=soon', 'due_after'],
        ['updated_since=yesterday', 'updated_since'],
        ['overdue=maybe', 'overdue'],
      ]) {
        const res = await suite.http.get(`/api/tasks?${query}`).set(user.auth);
        expect([query, res.status]).toEqual([query, 422]);
        expect(res.body.detail[0].loc).toEqual(['query', param]);
      }
    });
  });
});
