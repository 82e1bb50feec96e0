import { TaskEntity } from './task.entity';
import { TaskWire, toTaskResponse, WireSettings } from './tasks.mapper';

const TASK = {
  id: 17,
  userId: 'R35waxC4PhKloC2BQsg6TBBf0R0VwZjt',
  title: 'Buy milk',
  description: null,
  completed: true,
  priority: 3,
  tags: ['home'],
  dueDate: new Date('2026-12-01T00:00:00.000Z'),
  remindAt: null,
  recurrence: 'weekly',
  recurrenceUntil: null,
  completedAt: new Date('2026-11-26T08:00:00.000Z'),
  nextTaskId: 18,
  version: 2,
  createdAt: new Date('2026-11-25T16:50:49.578Z'),
  updatedAt: new Date('2026-11-26T08:00:00.000Z'),
} as TaskEntity;

const wire = (settings: Partial<WireSettings> = {}) =>
  new TaskWire({
    wire: { listResponse: 'array', deleteResponse: 'empty', taskIdType: 'integer', ...settings },
  });

describe(TaskWire.name, () => {
  describe('defaults', () => {
    it('should be the plain mapper, the bare array and no DELETE body, without any config', () => {
      for (const defaults of [new TaskWire(), wire()]) {
        expect(defaults.task).toBe(toTaskResponse);
        const tasks = [toTaskResponse(TASK)];
        expect(defaults.page(tasks, 41, 10, 20)).toEqual({
          body: tasks,
          count: 1,
          total: 41,
          limit: 10,
          offset: 20,
        });
        expect(defaults.page(tasks, 41, 10, 20).body).toBe(tasks);
        expect(defaults.deleted(17)).toBeUndefined();
        expect(defaults.ids([3, 4])).toEqual([3, 4]);
      }
    });
  });

  describe('TASK_ID_TYPE=string', () => {
    const strings = wire({ taskIdType: 'string' });

    it('should write id and next_task_id as strings, every other field as the mapper does', () => {
      expect(strings.task(TASK)).toEqual({ ...toTaskResponse(TASK), id: '17', next_task_id: '18' });
      expect(strings.task({ ...TASK, nextTaskId: null }).next_task_id).toBeNull();
    });

    it('should write lists of ids and the DELETE body id as strings', () => {
      expect(strings.ids([3, 4])).toEqual(['3', '4']);
      expect(wire({ taskIdType: 'string', deleteResponse: 'json' }).deleted(17)).toEqual({
        id: '17',
        deleted: true,
      });
    });

    it('should replay stored answers with string ids, whatever they were stored as', () => {
      const stored = toTaskResponse(TASK);
      expect(strings.storedTask(stored)).toEqual({ ...stored, id: '17', next_task_id: '18' });
      expect(strings.storedBulk({ updated: [1, '2'], not_found: [3] })).toEqual({
        updated: ['1', '2'],
        not_found: ['3'],
      });
      expect(wire().storedBulk({ updated: ['1', 2], not_found: ['3'] })).toEqual({
        updated: [1, 2],
        not_found: [3],
      });
    });
  });

  describe('LIST_RESPONSE=envelope', () => {
    const envelope = wire({ listResponse: 'envelope' });
    const tasks = [toTaskResponse(TASK)];

    it('should count this page, carry the total and paging, and tell whether more follows', () => {
      expect(envelope.page(tasks, 41, 10, 20)).toEqual({
        body: { tasks, count: 1, total: 41, limit: 10, offset: 20, has_more: true },
        count: 1,
        total: 41,
        limit: 10,
        offset: 20,
      });
      expect(envelope.page(tasks, 21, 10, 20).body).toMatchObject({ has_more: false });
      expect(envelope.page([], 21, 10, 40).body).toMatchObject({ count: 0, has_more: false });
    });
  });

  describe('DELETE_RESPONSE=json', () => {
    it("should answer the deleted task's id and deleted: true", () => {
      expect(wire({ deleteResponse: 'json' }).deleted(17)).toEqual({ id: 17, deleted: true });
    });
  });
});
