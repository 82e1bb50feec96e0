import { createTask, Task, useTestApp } from './support/app';
import { newUser, TestUser } from './support/tokens';

describe('Recurring tasks', () => {
  const suite = useTestApp();
  let user: TestUser;
  beforeEach(async () => {
    user = await newUser();
  });

  const create = (body: object) => createTask(suite.http, user, body);
  const list = async (): Promise<Task[]> =>
    (await suite.http.get('/api/tasks?sort=due_date&order=asc').set(user.auth).expect(200))
      .body as Task[];

  it.each([
    ['monthly', '2026-01-31T09:00:00.000Z', '2026-02-28T09:00:00.000Z'],
    ['monthly', '2028-01-31T09:00:00.000Z', '2028-02-29T09:00:00.000Z'],
    ['yearly', '2028-02-29T00:00:00.000Z', '2029-02-28T00:00:00.000Z'],
    ['weekly', '2026-12-29T10:00:00.000Z', '2027-01-05T10:00:00.000Z'],
    ['daily', '2026-12-31T23:30:00.000Z', '2027-01-01T23:30:00.000Z'],
  ])('should create the next %s occurrence of %s due %s', async (recurrence, due, next) => {
    const task = await create({
      title: 'Pay rent',
      description: 'flat 3',
      priority: 'high',
      tags: ['money'],
      recurrence,
      due_date: due,
      remind_at: due,
    });
    const completed = (
      await suite.http.patch(`/api/tasks/${task.id}/complete`).set(user.auth).expect(200)
    ).body as Task;
    expect(completed.completed).toBe(true);
    expect(completed.next_task_id).toEqual(expect.any(Number));

    const occurrence = (
      await suite.http
        .get(`/api/tasks/${completed.next_task_id as number}`)
        .set(user.auth)
        .expect(200)
    ).body as Task;
    expect(occurrence).toMatchObject({
      title: 'Pay rent',
      description: 'flat 3',
      priority: 'high',
      tags: ['money'],
      recurrence,
      due_date: next,
      remind_at: next,
      completed: false,
      completed_at: null,
      next_task_id: null,
    });
  });

  it('should never create a second occurrence: complete twice, reopen and complete, every route', async () => {
    const task = await create({
      title: 'Water plants',
      recurrence: 'weekly',
      due_date: '2026-12-01',
    });
    const first = (
      await suite.http
        .patch(`/api/tasks/${task.id}`)
        .set(user.auth)
        .send({ completed: true })
        .expect(200)
    ).body as Task;
    await suite.http
      .put(`/api/tasks/${task.id}`)
      .set(user.auth)
      .send({ completed: true })
      .expect(200);
    await suite.http
      .patch(`/api/tasks/${task.id}/complete`)
      .set(user.auth)
      .send({ completed: true })
      .expect(200);
    await suite.http.patch(`/api/tasks/${task.id}/complete`).set(user.auth).expect(200); // reopens
    const again = (
      await suite.http.patch(`/api/${user.id}/tasks/${task.id}/complete`).set(user.auth).expect(200)
    ).body as Task;
    await suite.http
      .post('/api/tasks/bulk')
      .set(user.auth)
      .send({ action: 'reopen', ids: [task.id] })
      .expect(200);
    await suite.http
      .post('/api/tasks/bulk')
      .set(user.auth)
      .send({ action: 'complete', ids: [task.id] })
      .expect(200);

    expect(again.next_task_id).toBe(first.next_task_id);
    const tasks = await list();
    expect(tasks).toHaveLength(2);
    expect(tasks.map((t) => t.id).sort()).toEqual([task.id, first.next_task_id].sort());
  });

  it('should create exactly one occurrence under concurrent completes', async () => {
    const task = await create({ title: 'Race', recurrence: 'daily', due_date: '2026-12-01' });
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        suite.http.patch(`/api/tasks/${task.id}/complete`).set(user.auth).send({ completed: true }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    const nextIds = new Set(responses.map((r) => (r.body as Task).next_task_id));
    expect(nextIds.size).toBe(1);
    expect(await list()).toHaveLength(2);
  });

  it('should complete recurring tasks in bulk with one occurrence each', async () => {
    const a = await create({ title: 'a', recurrence: 'daily', due_date: '2026-12-01' });
    const b = await create({ title: 'b', recurrence: 'monthly', due_date: '2026-12-31' });
    const res = await suite.http
      .post('/api/tasks/bulk')
      .set(user.auth)
      .send({ action: 'complete', ids: [a.id, b.id, a.id] })
      .expect(200);
    expect(res.body).toEqual({ updated: [a.id, b.id], not_found: [] });
    const dues = (await list()).filter((t) => !t.completed).map((t) => t.due_date);
    expect(dues).toEqual(['2026-12-02T00:00:00.000Z', '2027-01-31T00:00:00.000Z']);
  });

  it('should respect recurrence_until, creating an occurrence due exactly at it', async () => {
    const last = await create({
      title: 'until',
      recurrence: 'daily',
      due_date: '2026-12-01T08:00:00Z',
      recurrence_until: '2026-12-02T08:00:00Z',
    });
    const done = (
      await suite.http.patch(`/api/tasks/${last.id}/complete`).set(user.auth).expect(200)
    ).body as Task;
    expect(done.next_task_id).toEqual(expect.any(Number));
    const next = (
      await suite.http
        .patch(`/api/tasks/${done.next_task_id as number}/complete`)
        .set(user.auth)
        .expect(200)
    ).body as Task;
    expect(next.next_task_id).toBeNull();
    expect(await list()).toHaveLength(2);
  });

  it('should not create an occurrence when a task is created already completed', async () => {
    await create({ title: 'done', recurrence: 'daily', due_date: '2026-12-01', completed: true });
    expect(await list()).toHaveLength(1);
  });
});
