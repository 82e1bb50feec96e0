import { NotFoundException } from '@nestjs/common';
import { RequestValidationException } from '../common/validation-error';
import { ListTasksQuery } from './dto/list-tasks.query';
import { TaskEntity } from './task.entity';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';

const OWNER = 'R35waxC4PhKloC2BQsg6TBBf0R0VwZjt';
const CREATED = new Date('2026-11-25T16:50:49.578Z');
const UPDATED = new Date('2026-11-26T08:00:00.000Z');

function taskEntity(overrides: Partial<TaskEntity> = {}): TaskEntity {
  return Object.assign(new TaskEntity(), {
    id: 17,
    userId: OWNER,
    title: 'Buy milk',
    description: null,
    completed: false,
    createdAt: CREATED,
    updatedAt: UPDATED,
    ...overrides,
  });
}

function mockRepository(): jest.Mocked<TasksRepository> {
  return {
    listOwned: jest.fn(),
    findOwned: jest.fn(),
    createOwned: jest.fn(),
    updateOwned: jest.fn(),
    toggleCompletedOwned: jest.fn(),
    deleteOwned: jest.fn(),
  } as unknown as jest.Mocked<TasksRepository>;
}

function allRepositoryCalls(repository: jest.Mocked<TasksRepository>): unknown[][] {
  return [
    repository.listOwned,
    repository.findOwned,
    repository.createOwned,
    repository.updateOwned,
    repository.toggleCompletedOwned,
    repository.deleteOwned,
  ].flatMap((method) => method.mock.calls as unknown[][]);
}

const OUT_OF_RANGE_IDS = [0, -1, 2_147_483_648, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER];

describe(TasksService.name, () => {
  let repository: jest.Mocked<TasksRepository>;
  let service: TasksService;

  beforeEach(() => {
    repository = mockRepository();
    service = new TasksService(repository);
  });

  afterEach(() => {
    // The rule the repository's shape exists for: no query without the owner.
    for (const args of allRepositoryCalls(repository)) {
      expect(args[0]).toBe(OWNER);
    }
  });

  describe('list', () => {
    it('should map the rows and echo the paging', async () => {
      repository.listOwned.mockResolvedValue({ tasks: [taskEntity()], total: 41 });
      const query = Object.assign(new ListTasksQuery(), {
        status: 'pending',
        limit: 10,
        offset: 20,
      });

      const page = await service.list(OWNER, query);

      expect(repository.listOwned).toHaveBeenCalledWith(OWNER, query);
      expect(page).toEqual({
        tasks: [
          {
            id: 17,
            user_id: OWNER,
            title: 'Buy milk',
            description: null,
            completed: false,
            created_at: '2026-11-25T16:50:49.578Z',
            updated_at: '2026-11-26T08:00:00.000Z',
          },
        ],
        total: 41,
        limit: 10,
        offset: 20,
      });
    });
  });

  describe('get', () => {
    it('should return the owned task', async () => {
      repository.findOwned.mockResolvedValue(taskEntity({ id: 5, title: 'Walk' }));

      const task = await service.get(OWNER, 5);

      expect(repository.findOwned).toHaveBeenCalledWith(OWNER, 5);
      expect(task).toMatchObject({ id: 5, title: 'Walk', user_id: OWNER });
    });

    it('should throw NotFoundException when the task is missing or not owned', async () => {
      repository.findOwned.mockResolvedValue(null);

      await expect(service.get(OWNER, 5)).rejects.toThrow(NotFoundException);
      await expect(service.get(OWNER, 5)).rejects.toThrow('Task not found');
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without querying',
      async (id) => {
        await expect(service.get(OWNER, id)).rejects.toThrow(NotFoundException);
        expect(repository.findOwned).not.toHaveBeenCalled();
      },
    );

    it('should accept the largest PostgreSQL integer as an id', async () => {
      repository.findOwned.mockResolvedValue(taskEntity({ id: 2_147_483_647 }));

      await expect(service.get(OWNER, 2_147_483_647)).resolves.toMatchObject({ id: 2_147_483_647 });
      expect(repository.findOwned).toHaveBeenCalledWith(OWNER, 2_147_483_647);
    });
  });

  describe('create', () => {
    it('should default description to null and completed to false', async () => {
      repository.createOwned.mockResolvedValue(taskEntity());

      await service.create(OWNER, { title: 'Buy milk' });

      expect(repository.createOwned).toHaveBeenCalledWith(OWNER, {
        title: 'Buy milk',
        description: null,
        completed: false,
      });
    });

    it('should pass the fields as given, leaving trimming to validation', async () => {
      repository.createOwned.mockResolvedValue(taskEntity());

      await service.create(OWNER, { title: '  Buy milk  ', description: ' 2 l ', completed: true });

      expect(repository.createOwned).toHaveBeenCalledWith(OWNER, {
        title: '  Buy milk  ',
        description: ' 2 l ',
        completed: true,
      });
    });

    it('should return the created task in wire shape', async () => {
      repository.createOwned.mockResolvedValue(taskEntity({ id: 3, description: '2 l' }));

      await expect(service.create(OWNER, { title: 'Buy milk' })).resolves.toEqual({
        id: 3,
        user_id: OWNER,
        title: 'Buy milk',
        description: '2 l',
        completed: false,
        created_at: '2026-11-25T16:50:49.578Z',
        updated_at: '2026-11-26T08:00:00.000Z',
      });
    });
  });

  describe('update', () => {
    it('should refuse an update with no fields with a 422 located at the body', async () => {
      const error: unknown = await service.update(OWNER, 17, {}).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RequestValidationException);
      const { issues } = error as RequestValidationException;
      expect(issues).toHaveLength(1);
      expect(issues[0].loc).toEqual(['body']);
      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it('should treat explicitly undefined fields as absent', async () => {
      await expect(
        service.update(OWNER, 17, { title: undefined, description: undefined }),
      ).rejects.toBeInstanceOf(RequestValidationException);
    });

    it('should pass only the fields that are present', async () => {
      repository.updateOwned.mockResolvedValue(taskEntity({ title: 'Buy oat milk' }));

      await service.update(OWNER, 17, { title: 'Buy oat milk' });

      expect(repository.updateOwned).toHaveBeenCalledWith(OWNER, 17, { title: 'Buy oat milk' });
    });

    it('should pass description null, which clears it', async () => {
      repository.updateOwned.mockResolvedValue(taskEntity());

      await service.update(OWNER, 17, { description: null, completed: undefined });

      const patch = repository.updateOwned.mock.calls[0][2];
      expect(patch).toEqual({ description: null });
      expect(Object.keys(patch)).toEqual(['description']);
    });

    it('should pass completed false, which is a value and not an absence', async () => {
      repository.updateOwned.mockResolvedValue(taskEntity());

      await service.update(OWNER, 17, { completed: false });

      expect(repository.updateOwned).toHaveBeenCalledWith(OWNER, 17, { completed: false });
    });

    it('should return the updated task', async () => {
      repository.updateOwned.mockResolvedValue(taskEntity({ completed: true }));

      await expect(service.update(OWNER, 17, { completed: true })).resolves.toMatchObject({
        id: 17,
        completed: true,
      });
    });

    it('should throw NotFoundException when no owned task was updated', async () => {
      repository.updateOwned.mockResolvedValue(null);

      await expect(service.update(OWNER, 17, { title: 'x' })).rejects.toThrow(NotFoundException);
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without querying',
      async (id) => {
        await expect(service.update(OWNER, id, { title: 'x' })).rejects.toThrow(NotFoundException);
        expect(repository.updateOwned).not.toHaveBeenCalled();
      },
    );
  });

  describe('complete', () => {
    it('should toggle when completed is absent', async () => {
      repository.toggleCompletedOwned.mockResolvedValue(taskEntity({ completed: true }));

      const task = await service.complete(OWNER, 17, {});

      expect(repository.toggleCompletedOwned).toHaveBeenCalledWith(OWNER, 17);
      expect(repository.updateOwned).not.toHaveBeenCalled();
      expect(task.completed).toBe(true);
    });

    it.each([true, false])('should set completed to %p when it is given', async (completed) => {
      repository.updateOwned.mockResolvedValue(taskEntity({ completed }));

      const task = await service.complete(OWNER, 17, { completed });

      expect(repository.updateOwned).toHaveBeenCalledWith(OWNER, 17, { completed });
      expect(repository.toggleCompletedOwned).not.toHaveBeenCalled();
      expect(task.completed).toBe(completed);
    });

    it('should throw NotFoundException when the task is missing or not owned', async () => {
      repository.toggleCompletedOwned.mockResolvedValue(null);
      repository.updateOwned.mockResolvedValue(null);

      await expect(service.complete(OWNER, 17, {})).rejects.toThrow(NotFoundException);
      await expect(service.complete(OWNER, 17, { completed: true })).rejects.toThrow(
        NotFoundException,
      );
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without querying',
      async (id) => {
        await expect(service.complete(OWNER, id, {})).rejects.toThrow(NotFoundException);
        await expect(service.complete(OWNER, id, { completed: true })).rejects.toThrow(
          NotFoundException,
        );
        expect(repository.toggleCompletedOwned).not.toHaveBeenCalled();
        expect(repository.updateOwned).not.toHaveBeenCalled();
      },
    );
  });

  describe('remove', () => {
    it('should delete the owned task', async () => {
      repository.deleteOwned.mockResolvedValue(true);

      await expect(service.remove(OWNER, 17)).resolves.toBeUndefined();
      expect(repository.deleteOwned).toHaveBeenCalledWith(OWNER, 17);
    });

    it('should throw NotFoundException when nothing was deleted', async () => {
      repository.deleteOwned.mockResolvedValue(false);

      await expect(service.remove(OWNER, 17)).rejects.toThrow(NotFoundException);
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without querying',
      async (id) => {
        await expect(service.remove(OWNER, id)).rejects.toThrow(NotFoundException);
        expect(repository.deleteOwned).not.toHaveBeenCalled();
      },
    );
  });
});
