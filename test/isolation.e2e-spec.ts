import { useTestApp } from './support/app';
import { betterAuthUser, newUser, TestUser } from './support/tokens';

describe('User isolation', () => {
  const suite = useTestApp();

  const verbs = (base: string, id: number) => [
    { name: 'GET', call: () => suite.http.get(`${base}/${id}`) },
    {
      name: 'PUT',
      call: () => suite.http.put(`${base}/${id}`).send({ title: 'hijacked', completed: true }),
    },
    { name: 'PATCH', call: () => suite.http.patch(`${base}/${id}`).send({ title: 'hijacked' }) },
    { name: 'PATCH complete', call: () => suite.http.patch(`${base}/${id}/complete`) },
    {
      name: 'PATCH complete with body',
      call: () => suite.http.patch(`${base}/${id}/complete`).send({ completed: true }),
    },
    { name: 'DELETE', call: () => suite.http.delete(`${base}/${id}`) },
  ];

  it.each([
    ['HS256 users', newUser],
    ['Better Auth users', betterAuthUser],
  ])(
    "should answer 404 to every verb on another user's task and leave it unchanged (%s)",
    async (_name, makeUser) => {
      const alice: TestUser = await makeUser();
      const bob: TestUser = await makeUser();
      const task = (
        await suite.http
          .post('/api/tasks')
          .set(alice.auth)
          .send({ title: "Alice's", description: 'private' })
          .expect(201)
      ).body;

      for (const base of ['/api/tasks', `/api/${encodeURIComponent(bob.id)}/tasks`]) {
        for (const { name, call } of verbs(base, task.id)) {
          const res = await call().set(bob.auth);
          expect([name, base, res.status]).toEqual([name, base, 404]);
          expect(res.body).toEqual({ detail: 'Task not found' });
        }
      }

      await suite.http.get(`/api/tasks/${task.id}`).set(alice.auth).expect(200, task);
      const bobsList = await suite.http.get('/api/tasks').set(bob.auth).expect(200);
      expect(bobsList.body).toEqual([]);
      expect(bobsList.headers['x-total-count']).toBe('0');
      const alicesList = await suite.http.get('/api/tasks').set(alice.auth).expect(200);
      expect(alicesList.body).toEqual([task]);
    },
  );

  it('should answer 404, not 403, for an unknown task id so existence never leaks', async () => {
    const bob = await newUser();
    await suite.http.get('/api/tasks/1').set(bob.auth).expect(404);
  });
});
