import {
  ConflictException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  NotFoundException,
} from '@nestjs/common';
import { RequestValidationException } from '../common/validation-error';
import { TasksConfig } from '../config/configuration';
import { BulkTasksDto } from './dto/bulk-tasks.dto';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQuery } from './dto/list-tasks.query';
import { ChangesQuery } from './dto/sync.dto';
import { EntityManager } from 'typeorm';
import { Transactions } from '../database/transactions';
import { StoredReply, IdempotencyRepository } from './idempotency/idempotency.repository';
import { IdempotencyService } from './idempotency/idempotency.service';
import { encodeCursor } from './sync/changes-cursor';
import { ChangesRepository } from './sync/changes.repository';
import { ChangesService } from './sync/changes.service';
import { TaskEntity } from './task.entity';
import { TaskWire } from './tasks.mapper';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';

const OWNER = 'R35waxC4PhKloC2BQsg6TBBf0R0VwZjt';
const NOW = new Date('2026-11-27T12:00:00.000Z');
const CREATED = new Date('2026-11-25T16:50:49.578Z');
const UPDATED = new Date('2026-11-26T08:00:00.000Z');
const KEY = 'b5f0c8a2-retry-key';
const CALLER = { userId: OWNER };

/**
 * A row as the repository hands it back: a plain object. The columns the rules read are spelled
 * out; a column added later needs no edit here (the service never reads what it does not know).
 */
function taskEntity(overrides: Partial<TaskEntity> = {}): TaskEntity {
  const row: Partial<TaskEntity> = {
    id: 17,
    userId: OWNER,
    title: 'Buy milk',
    description: null,
    completed: false,
    priority: 2,
    tags: [],
    dueDate: null,
    remindAt: null,
    recurrence: null,
    recurrenceUntil: null,
    completedAt: null,
    nextTaskId: null,
    version: 1,
    createdAt: CREATED,
    updatedAt: UPDATED,
    ...overrides,
  };
  return row as TaskEntity;
}

/** Every repository method whose first parameter is the owner's id, per repository. */
const OWNED = {
  tasks: [
    'listOwned',
    'findOwned',
    'lockOwned',
    'lockManyOwned',
    'createOwned',
    'lockTaskQuota',
    'updateOwned',
    'deleteOwned',
    'deleteCompletedOwned',
    'statsOwned',
  ],
  feed: ['changedOwned', 'deletedOwned', 'rememberDeletedOwned'],
  keys: ['claimOwned', 'findOwned', 'storeReplyOwned'],
} as const;

/** A mock of one of our repositories: its owned methods, `in(tx)` answering itself. */
function mockOf<R extends { in(tx: EntityManager): R }>(
  methods: readonly string[],
  extra: string[] = [],
): jest.Mocked<R> {
  const repository = Object.fromEntries(
    [...methods, ...extra].map((method) => [method, jest.fn()]),
  ) as unknown as jest.Mocked<R>;
  (repository as unknown as { in: jest.Mock }).in = jest.fn(() => repository);
  return repository;
}

function ownedCalls(repositories: Record<keyof typeof OWNED, object>): unknown[][] {
  return (Object.keys(OWNED) as (keyof typeof OWNED)[]).flatMap((name) =>
    OWNED[name].flatMap(
      (method) =>
        (repositories[name] as Record<string, jest.Mock>)[method].mock.calls as unknown[][],
    ),
  );
}

/**
 * The error a call fails with, whether it throws or rejects; a call that succeeds fails the test.
 */
async function failureOf(call: () => Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await call();
  } catch (error: unknown) {
    return error;
  }
  throw new Error(`Expected a failure, got ${JSON.stringify(value)}`);
}

async function expectValidationError(call: () => Promise<unknown>, loc: string[]): Promise<void> {
  const error = await failureOf(call);
  expect(error).toBeInstanceOf(RequestValidationException);
  expect((error as RequestValidationException).getStatus()).toBe(422);
  expect((error as RequestValidationException).issues.map((issue) => issue.loc)).toEqual([loc]);
}

async function expectPreconditionFailed(call: () => Promise<unknown>): Promise<void> {
  const error = await failureOf(call);
  expect(error).toBeInstanceOf(HttpException);
  expect((error as HttpException).getStatus()).toBe(HttpStatus.PRECONDITION_FAILED);
}

const base64url = (text: string) => Buffer.from(text).toString('base64url');

const OUT_OF_RANGE_IDS = [0, -1, 2_147_483_648, 1.5, Number.NaN];

describe(TasksService.name, () => {
  let repository: jest.Mocked<TasksRepository>;
  let feed: jest.Mocked<ChangesRepository>;
  let keys: jest.Mocked<IdempotencyRepository>;
  let transactions: jest.Mocked<Transactions>;
  let service: TasksService;

  /** The key was used before: `claimOwned` refuses and `findOwned` answers what it stored. */
  function storedReply(reply: StoredReply): void {
    keys.claimOwned.mockResolvedValue(false);
    keys.findOwned.mockResolvedValue(reply);
  }

  beforeEach(() => {
    // Only Date is faked: the service awaits promises but never schedules timers.
    jest.useFakeTimers({ now: NOW, doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    repository = mockOf<TasksRepository>(OWNED.tasks);
    feed = mockOf<ChangesRepository>(OWNED.feed, ['currentSnapshot']);
    keys = mockOf<IdempotencyRepository>(OWNED.keys);
    transactions = {
      run: jest.fn((work) => work({})),
    } as unknown as jest.Mocked<Transactions>;
    service = new TasksService(
      repository,
      transactions,
      new IdempotencyService(keys, transactions),
      new ChangesService(feed, new TaskWire()),
      new TaskWire(),
    );
  });

  afterEach(() => {
    jest.useRealTimers();
    // The rule the repository's shape exists for: no query without the owner.
    for (const args of ownedCalls({ tasks: repository, feed, keys })) {
      expect(args[0]).toBe(OWNER);
    }
  });

  describe('ownership', () => {
    const stranger = { userId: OWNER, pathUserId: 'someone-else' };

    it('should take the owner from the token when the path names no user', () => {
      expect(service.ownerOf({ userId: OWNER })).toBe(OWNER);
    });

    it('should accept a path user who is the caller', () => {
      expect(service.ownerOf({ userId: OWNER, pathUserId: OWNER })).toBe(OWNER);
    });

    it.each([
      ['list', () => service.list(stranger, new ListTasksQuery())],
      ['get', () => service.get(stranger, 17)],
      ['create', () => service.create(stranger, { title: 'x' })],
      ['update', () => service.update(stranger, 17, { title: 'x' })],
      ['complete', () => service.complete(stranger, 17, {})],
      ['remove', () => service.remove(stranger, 17)],
      ['bulk', () => service.bulk(stranger, { action: 'delete', ids: [17] })],
      ['clearCompleted', () => service.clearCompleted(stranger)],
      ['changes', () => service.changes(stranger, { limit: 10 })],
      ['stats', () => service.stats(stranger)],
    ])(
      'should refuse %s for another user in the path with 403 and touch nothing',
      async (_name, call) => {
        const error = await failureOf(call);
        expect(error).toBeInstanceOf(ForbiddenException);
        expect((error as ForbiddenException).message).toBe(
          'Not allowed to access tasks of another user',
        );
        expect(ownedCalls({ tasks: repository, feed, keys })).toEqual([]);
        expect(transactions.run).not.toHaveBeenCalled();
      },
    );
  });

  describe('create', () => {
    it('should create with the defaults when only a title is given', async () => {
      repository.createOwned.mockResolvedValue(taskEntity());

      await service.create(CALLER, { title: 'Buy milk' });

      expect(repository.createOwned).toHaveBeenCalledTimes(1);
      expect(repository.createOwned.mock.calls[0]).toStrictEqual([
        OWNER,
        {
          title: 'Buy milk',
          completed: false,
          priority: 2,
          tags: [],
          completedAt: null,
        },
        9_900, // far from the default quota of 10,000: one statement, no lock
      ]);
      expect(transactions.run).toHaveBeenCalledTimes(1); // every write is one transaction
      expect(repository.lockTaskQuota).not.toHaveBeenCalled();
    });

    it('should lock and count again near the quota, and refuse past it with 409', async () => {
      repository.createOwned.mockResolvedValue(null);

      const failure = await failureOf(() => service.create(CALLER, { title: 'One too many' }));

      expect(failure).toBeInstanceOf(ConflictException);
      expect((failure as ConflictException).message).toMatch(/at most 10000 tasks/);
      expect(repository.createOwned.mock.calls.map((call) => call[2])).toEqual([9_900, 10_000]);
      expect(repository.lockTaskQuota).toHaveBeenCalledWith(OWNER);
      expect(repository.lockTaskQuota.mock.invocationCallOrder[0]).toBeLessThan(
        repository.createOwned.mock.invocationCallOrder[1],
      );
    });

    it('should create near the quota once the locked count allows it', async () => {
      repository.createOwned.mockResolvedValueOnce(null).mockResolvedValueOnce(taskEntity());

      await expect(service.create(CALLER, { title: 'Last one' })).resolves.toBeDefined();
      expect(transactions.run).toHaveBeenCalledTimes(1);
    });

    it.each([
      ['low', 1],
      ['medium', 2],
      ['high', 3],
    ] as const)('should store priority %p as rank %p', async (priority, rank) => {
      repository.createOwned.mockResolvedValue(taskEntity({ priority: rank }));

      await service.create(CALLER, { title: 'Buy milk', priority });

      expect(repository.createOwned.mock.calls[0][1].priority).toBe(rank);
    });

    it('should set completedAt when the task is created completed', async () => {
      repository.createOwned.mockResolvedValue(taskEntity({ completed: true, completedAt: NOW }));

      await service.create(CALLER, { title: 'Buy milk', completed: true });

      expect(repository.createOwned.mock.calls[0][1]).toMatchObject({
        completed: true,
        completedAt: NOW,
      });
    });

    it('should pass the planning fields as given', async () => {
      const due = new Date('2026-12-01T00:00:00.000Z');
      const remind = new Date('2026-11-30T18:00:00.000Z');
      const until = new Date('2027-06-01T00:00:00.000Z');
      repository.createOwned.mockResolvedValue(taskEntity());

      await service.create(CALLER, {
        title: 'Pay rent',
        description: 'Transfer',
        tags: ['home', 'money'],
        due_date: due,
        remind_at: remind,
        recurrence: 'monthly',
        recurrence_until: until,
      });

      expect(repository.createOwned.mock.calls[0][1]).toStrictEqual({
        title: 'Pay rent',
        description: 'Transfer',
        completed: false,
        priority: 2,
        tags: ['home', 'money'],
        dueDate: due,
        remindAt: remind,
        recurrence: 'monthly',
        recurrenceUntil: until,
        completedAt: null,
      });
    });

    it('should refuse a recurrence without a due_date and create nothing', async () => {
      await expectValidationError(
        () => service.create(CALLER, { title: 'Water plants', recurrence: 'daily' }, KEY),
        ['body', 'recurrence'],
      );

      expect(repository.createOwned).not.toHaveBeenCalled();
      expect(keys.claimOwned).not.toHaveBeenCalled();
    });

    it('should reply with the task in wire shape and its ETag', async () => {
      repository.createOwned.mockResolvedValue(
        taskEntity({
          id: 5,
          version: 1,
          priority: 3,
          tags: ['work'],
          dueDate: new Date('2026-12-01T00:00:00.000Z'),
          recurrence: 'weekly',
        }),
      );

      const reply = await service.create(CALLER, { title: 'Buy milk' });

      expect(reply).toStrictEqual({
        body: {
          id: 5,
          user_id: OWNER,
          title: 'Buy milk',
          description: null,
          completed: false,
          priority: 'high',
          tags: ['work'],
          due_date: '2026-12-01T00:00:00.000Z',
          remind_at: null,
          recurrence: 'weekly',
          recurrence_until: null,
          completed_at: null,
          next_task_id: null,
          created_at: '2026-11-25T16:50:49.578Z',
          updated_at: '2026-11-26T08:00:00.000Z',
        },
        etag: '"5-1"',
      });
    });
  });

  describe('idempotency', () => {
    const dto: CreateTaskDto = { title: 'Buy milk', priority: 'high', tags: ['home'] };

    /** Creates once with the key and returns the request hash the service claimed it with. */
    async function firstCreate(): Promise<string> {
      keys.claimOwned.mockResolvedValueOnce(true);
      repository.createOwned.mockResolvedValueOnce(taskEntity({ id: 9, version: 1 }));
      await service.create(CALLER, dto, KEY);
      const [, , hash] = keys.claimOwned.mock.calls[0];
      jest.clearAllMocks();
      return hash;
    }

    it('should run a create without a key outside the idempotency store', async () => {
      repository.createOwned.mockResolvedValue(taskEntity());

      const reply = await service.create(CALLER, dto);

      expect(keys.claimOwned).not.toHaveBeenCalled();
      expect(keys.storeReplyOwned).not.toHaveBeenCalled();
      expect(reply.replayed).toBeUndefined();
    });

    it('should create and store the reply when the key is claimed', async () => {
      keys.claimOwned.mockResolvedValue(true);
      repository.createOwned.mockResolvedValue(taskEntity({ id: 9, version: 1, priority: 3 }));

      const reply = await service.create(CALLER, dto, KEY);

      expect(transactions.run).toHaveBeenCalledTimes(1);
      expect(keys.claimOwned).toHaveBeenCalledWith(
        OWNER,
        KEY,
        expect.stringMatching(/^[0-9a-f]{64}$/),
      );
      expect(repository.createOwned).toHaveBeenCalledTimes(1);
      expect(keys.storeReplyOwned).toHaveBeenCalledWith(OWNER, KEY, {
        status: 201,
        body: reply.body,
        etag: '"9-1"',
      });
      expect(reply).toMatchObject({ body: { id: 9, priority: 'high' }, etag: '"9-1"' });
      expect(reply.replayed).toBeUndefined();
    });

    it('should replay the stored reply for the same request and create nothing', async () => {
      const hash = await firstCreate();
      const storedBody = { id: 9, title: 'Buy milk', priority: 'high', next_task_id: null };
      storedReply({
        requestHash: hash,
        responseStatus: 201,
        responseBody: storedBody,
        responseEtag: '"9-1"',
      });

      const reply = await service.create(CALLER, { ...dto }, KEY);

      expect(keys.claimOwned).toHaveBeenCalledWith(OWNER, KEY, hash);
      expect(repository.createOwned).not.toHaveBeenCalled();
      expect(keys.storeReplyOwned).not.toHaveBeenCalled();
      expect(reply).toStrictEqual({ body: storedBody, etag: '"9-1"', replayed: true });
    });

    it('should replay a stored task with its ids as TASK_ID_TYPE writes them today', async () => {
      const hash = await firstCreate();
      const stored = { id: '9', title: 'Buy milk', next_task_id: '12' };
      storedReply({
        requestHash: hash,
        responseStatus: 201,
        responseBody: stored,
        responseEtag: null,
      });

      const reply = await service.create(CALLER, { ...dto }, KEY);

      expect(reply.body).toEqual({ id: 9, title: 'Buy milk', next_task_id: 12 });
    });

    it('should hash the same body the same way whatever its key order or absent fields', async () => {
      const hash = await firstCreate();
      keys.claimOwned.mockResolvedValue(true);
      repository.createOwned.mockResolvedValue(taskEntity());

      await service.create(
        CALLER,
        { tags: ['home'], description: undefined, priority: 'high', title: 'Buy milk' },
        KEY,
      );

      expect(keys.claimOwned).toHaveBeenCalledWith(OWNER, KEY, hash);
    });

    it('should refuse the same key with a different body with a 422 on the header', async () => {
      const hash = await firstCreate();
      storedReply({
        requestHash: hash,
        responseStatus: 201,
        responseBody: {},
        responseEtag: '"9-1"',
      });

      await expectValidationError(
        () => service.create(CALLER, { ...dto, title: 'Buy bread' }, KEY),
        ['header', 'Idempotency-Key'],
      );

      expect(keys.claimOwned.mock.calls[0][2]).not.toBe(hash);
      expect(repository.createOwned).not.toHaveBeenCalled();
      expect(keys.storeReplyOwned).not.toHaveBeenCalled();
    });

    it('should answer 409 while the first request with the key has not finished', async () => {
      const hash = await firstCreate();
      storedReply({
        requestHash: hash,
        responseStatus: null,
        responseBody: null,
        responseEtag: null,
      });

      await expect(service.create(CALLER, dto, KEY)).rejects.toBeInstanceOf(ConflictException);
      expect(repository.createOwned).not.toHaveBeenCalled();
    });

    it('should store a bulk reply with status 200 and no ETag', async () => {
      keys.claimOwned.mockResolvedValue(true);
      repository.deleteOwned.mockResolvedValue([4]);

      const reply = await service.bulk(CALLER, { action: 'delete', ids: [4] }, KEY);

      expect(reply).toStrictEqual({ body: { updated: [4], not_found: [] } });
      expect(keys.storeReplyOwned).toHaveBeenCalledWith(OWNER, KEY, {
        status: 200,
        body: { updated: [4], not_found: [] },
        etag: undefined,
      });
    });

    it('should not confuse a bulk request with a create request under the same body', async () => {
      keys.claimOwned.mockResolvedValue(true);
      repository.createOwned.mockResolvedValue(taskEntity());
      repository.lockManyOwned.mockResolvedValue([]);

      await service.create(CALLER, { title: 'x' }, KEY);
      await service.bulk(CALLER, { title: 'x' } as unknown as BulkTasksDto, KEY);

      const [createHash, bulkHash] = keys.claimOwned.mock.calls.map((c) => c[2]);
      expect(createHash).not.toBe(bulkHash);
    });
  });

  describe('get', () => {
    it('should reply with the owned task and its ETag', async () => {
      repository.findOwned.mockResolvedValue(taskEntity({ id: 5, title: 'Walk', version: 7 }));

      const reply = await service.get(CALLER, 5);

      expect(repository.findOwned).toHaveBeenCalledWith(OWNER, 5);
      expect(reply.body).toMatchObject({ id: 5, title: 'Walk', user_id: OWNER });
      expect(reply.etag).toBe('"5-7"');
    });

    it('should throw NotFoundException when the task is missing or not owned', async () => {
      repository.findOwned.mockResolvedValue(null);

      await expect(service.get(CALLER, 5)).rejects.toThrow(NotFoundException);
      await expect(service.get(CALLER, 5)).rejects.toThrow('Task not found');
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without any repository call',
      async (id) => {
        await expect(service.get(CALLER, id)).rejects.toThrow(NotFoundException);
        expect(ownedCalls({ tasks: repository, feed, keys })).toEqual([]);
        expect(transactions.run).not.toHaveBeenCalled();
      },
    );

    it('should accept the largest PostgreSQL integer as an id', async () => {
      repository.findOwned.mockResolvedValue(taskEntity({ id: 2_147_483_647 }));

      await expect(service.get(CALLER, 2_147_483_647)).resolves.toMatchObject({
        body: { id: 2_147_483_647 },
      });
      expect(repository.findOwned).toHaveBeenCalledWith(OWNER, 2_147_483_647);
    });
  });

  describe('update', () => {
    beforeEach(() => {
      repository.lockOwned.mockResolvedValue(taskEntity({ version: 3 }));
      repository.updateOwned.mockResolvedValue(taskEntity({ version: 4 }));
    });

    it.each([{}, { title: undefined, description: undefined }])(
      'should refuse an update that sets nothing (%p) with a 422 on the body',
      async (dto) => {
        await expectValidationError(() => service.update(CALLER, 17, dto), ['body']);

        expect(repository.lockOwned).not.toHaveBeenCalled();
        expect(repository.updateOwned).not.toHaveBeenCalled();
      },
    );

    it('should pass only the fields that are present, null included', async () => {
      await service.update(CALLER, 17, {
        title: undefined,
        description: null,
        completed: undefined,
        priority: 'high',
      });

      expect(repository.lockOwned).toHaveBeenCalledWith(OWNER, 17);
      expect(repository.updateOwned.mock.calls[0]).toStrictEqual([
        OWNER,
        17,
        { description: null, priority: 3 },
      ]);
    });

    it('should pass completed false, which is a value and not an absence', async () => {
      await service.update(CALLER, 17, { completed: false });

      expect(repository.updateOwned.mock.calls[0][2]).toStrictEqual({ completed: false });
    });

    it('should translate every wire field to its entity property', async () => {
      const due = new Date('2026-12-01T00:00:00.000Z');
      const until = new Date('2027-01-01T00:00:00.000Z');

      await service.update(CALLER, 17, {
        title: 'Pay rent',
        priority: 'low',
        tags: ['home'],
        due_date: due,
        remind_at: null,
        recurrence: 'monthly',
        recurrence_until: until,
      });

      expect(repository.updateOwned.mock.calls[0][2]).toStrictEqual({
        title: 'Pay rent',
        priority: 1,
        tags: ['home'],
        dueDate: due,
        remindAt: null,
        recurrence: 'monthly',
        recurrenceUntil: until,
      });
    });

    it('should reply with the updated task and its new ETag', async () => {
      repository.updateOwned.mockResolvedValue(taskEntity({ title: 'Buy oat milk', version: 4 }));

      const reply = await service.update(CALLER, 17, { title: 'Buy oat milk' });

      expect(reply.body).toMatchObject({ id: 17, title: 'Buy oat milk' });
      expect(reply.etag).toBe('"17-4"');
    });

    it('should throw NotFoundException and write nothing when the task is not owned', async () => {
      repository.lockOwned.mockResolvedValue(null);

      await expect(service.update(CALLER, 17, { title: 'x' })).rejects.toThrow(NotFoundException);
      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it('should answer 412 and write nothing when If-Match is stale', async () => {
      await expectPreconditionFailed(() => service.update(CALLER, 17, { title: 'x' }, '"17-2"'));

      expect(repository.lockOwned).toHaveBeenCalledWith(OWNER, 17);
      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it.each(['"17-3"', '"17-1", "17-3"', '*'])(
      'should proceed when If-Match %s matches the locked row',
      async (ifMatch) => {
        await service.update(CALLER, 17, { title: 'x' }, ifMatch);

        expect(repository.updateOwned).toHaveBeenCalledWith(OWNER, 17, { title: 'x' });
      },
    );

    it('should not let a weak tag satisfy If-Match', async () => {
      await expectPreconditionFailed(() => service.update(CALLER, 17, { title: 'x' }, 'W/"17-3"'));

      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it('should refuse a recurrence on a task without a due date and write nothing', async () => {
      await expectValidationError(
        () => service.update(CALLER, 17, { recurrence: 'weekly' }),
        ['body', 'recurrence'],
      );

      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it('should refuse clearing the due date of a recurring task', async () => {
      repository.lockOwned.mockResolvedValue(
        taskEntity({ recurrence: 'daily', dueDate: new Date('2026-12-01T00:00:00.000Z') }),
      );

      await expectValidationError(
        () => service.update(CALLER, 17, { due_date: null }),
        ['body', 'recurrence'],
      );
      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it('should create the next occurrence when an update completes a recurring task', async () => {
      repository.lockOwned.mockResolvedValue(
        taskEntity({ recurrence: 'daily', dueDate: new Date('2026-12-01T09:00:00.000Z') }),
      );
      repository.createOwned.mockResolvedValue(taskEntity({ id: 18 }));

      await service.update(CALLER, 17, { completed: true });

      expect(repository.createOwned).toHaveBeenCalledTimes(1);
      expect(repository.createOwned.mock.calls[0][1].dueDate).toEqual(
        new Date('2026-12-02T09:00:00.000Z'),
      );
      expect(repository.updateOwned.mock.calls[0][2]).toStrictEqual({
        completed: true,
        completedAt: NOW,
        nextTaskId: 18,
      });
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without any repository call',
      async (id) => {
        await expect(service.update(CALLER, id, { title: 'x' })).rejects.toThrow(NotFoundException);
        expect(ownedCalls({ tasks: repository, feed, keys })).toEqual([]);
      },
    );
  });

  describe('complete', () => {
    const monthly = (overrides: Partial<TaskEntity> = {}) =>
      taskEntity({
        title: 'Pay rent',
        description: 'Transfer to landlord',
        priority: 3,
        tags: ['home', 'money'],
        dueDate: new Date('2026-01-31T10:00:00.000Z'),
        remindAt: new Date('2026-01-31T08:00:00.000Z'),
        recurrence: 'monthly',
        ...overrides,
      });

    beforeEach(() => {
      repository.updateOwned.mockImplementation((_owner, id, patch) =>
        Promise.resolve(taskEntity({ id, version: 2, ...patch })),
      );
    });

    it('should complete an open task when no body is given', async () => {
      repository.lockOwned.mockResolvedValue(taskEntity({ completed: false }));

      const reply = await service.complete(CALLER, 17, {});

      expect(repository.updateOwned.mock.calls[0]).toStrictEqual([
        OWNER,
        17,
        { completed: true, completedAt: NOW },
      ]);
      expect(reply.body).toMatchObject({ completed: true, completed_at: NOW.toISOString() });
      expect(reply.etag).toBe('"17-2"');
    });

    it('should reopen a completed task when no body is given, clearing completedAt', async () => {
      repository.lockOwned.mockResolvedValue(taskEntity({ completed: true, completedAt: UPDATED }));

      await service.complete(CALLER, 17, {});

      expect(repository.updateOwned.mock.calls[0][2]).toStrictEqual({
        completed: false,
        completedAt: null,
      });
    });

    it('should leave completedAt alone when completed is set to what it already is', async () => {
      repository.lockOwned.mockResolvedValue(taskEntity({ completed: true, completedAt: UPDATED }));

      await service.complete(CALLER, 17, { completed: true });

      expect(repository.updateOwned.mock.calls[0][2]).toStrictEqual({ completed: true });
    });

    it('should create exactly one occurrence one calendar month later when completing a monthly task', async () => {
      repository.lockOwned.mockResolvedValue(monthly());
      repository.createOwned.mockResolvedValue(monthly({ id: 42 }));

      const reply = await service.complete(CALLER, 17, {});

      expect(repository.createOwned).toHaveBeenCalledTimes(1);
      expect(repository.createOwned.mock.calls[0]).toStrictEqual([
        OWNER,
        {
          title: 'Pay rent',
          description: 'Transfer to landlord',
          completed: false,
          priority: 3,
          tags: ['home', 'money'],
          dueDate: new Date('2026-02-28T10:00:00.000Z'),
          remindAt: new Date('2026-02-28T08:00:00.000Z'),
          recurrence: 'monthly',
          recurrenceUntil: null,
          completedAt: null,
        },
        9_900, // far from the quota: the margin absorbs concurrent creates, no lock
      ]);
      expect(repository.lockTaskQuota).not.toHaveBeenCalled();
      expect(repository.updateOwned.mock.calls[0]).toStrictEqual([
        OWNER,
        17,
        { completed: true, completedAt: NOW, nextTaskId: 42 },
      ]);
      expect(reply.body.next_task_id).toBe(42);
    });

    it('should create nothing when the task already has a next occurrence', async () => {
      repository.lockOwned.mockResolvedValue(monthly({ nextTaskId: 30 }));

      await service.complete(CALLER, 17, {});

      expect(repository.createOwned).not.toHaveBeenCalled();
      expect(repository.updateOwned.mock.calls[0][2]).toStrictEqual({
        completed: true,
        completedAt: NOW,
      });
    });

    it('should create nothing when the next occurrence would fall after recurrence_until', async () => {
      repository.lockOwned.mockResolvedValue(
        monthly({ recurrenceUntil: new Date('2026-02-28T09:59:59.999Z') }),
      );

      await service.complete(CALLER, 17, { completed: true });

      expect(repository.createOwned).not.toHaveBeenCalled();
      expect(repository.updateOwned.mock.calls[0][2]).not.toHaveProperty('nextTaskId');
    });

    it('should still create an occurrence due exactly at recurrence_until', async () => {
      const until = new Date('2026-02-28T10:00:00.000Z');
      repository.lockOwned.mockResolvedValue(monthly({ recurrenceUntil: until }));
      repository.createOwned.mockResolvedValue(monthly({ id: 43 }));

      await service.complete(CALLER, 17, { completed: true });

      expect(repository.createOwned).toHaveBeenCalledTimes(1);
      expect(repository.createOwned.mock.calls[0][1]).toMatchObject({
        dueDate: until,
        recurrenceUntil: until,
      });
    });

    it('should create nothing when completed:true is sent for an already completed task', async () => {
      repository.lockOwned.mockResolvedValue(monthly({ completed: true, completedAt: UPDATED }));

      await service.complete(CALLER, 17, { completed: true });

      expect(repository.createOwned).not.toHaveBeenCalled();
    });

    it('should create nothing when a recurring task is reopened', async () => {
      repository.lockOwned.mockResolvedValue(monthly({ completed: true, completedAt: UPDATED }));

      await service.complete(CALLER, 17, {});

      expect(repository.createOwned).not.toHaveBeenCalled();
      expect(repository.updateOwned.mock.calls[0][2]).toStrictEqual({
        completed: false,
        completedAt: null,
      });
    });

    it('should answer 412 and change nothing when If-Match is stale', async () => {
      repository.lockOwned.mockResolvedValue(monthly({ version: 5 }));

      await expectPreconditionFailed(() => service.complete(CALLER, 17, {}, '"17-4"'));

      expect(repository.createOwned).not.toHaveBeenCalled();
      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it('should throw NotFoundException when the task is missing or not owned', async () => {
      repository.lockOwned.mockResolvedValue(null);

      await expect(service.complete(CALLER, 17, {})).rejects.toThrow(NotFoundException);
      expect(repository.updateOwned).not.toHaveBeenCalled();
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without any repository call',
      async (id) => {
        await expect(service.complete(CALLER, id, {})).rejects.toThrow(NotFoundException);
        expect(ownedCalls({ tasks: repository, feed, keys })).toEqual([]);
      },
    );
  });

  describe('remove', () => {
    it('should delete the owned task in a transaction without locking it first when there is no If-Match', async () => {
      repository.deleteOwned.mockResolvedValue([17]);

      await expect(service.remove(CALLER, 17)).resolves.toBeUndefined();

      expect(transactions.run).toHaveBeenCalledTimes(1);
      expect(repository.deleteOwned).toHaveBeenCalledWith(OWNER, [17]);
      expect(repository.lockOwned).not.toHaveBeenCalled();
    });

    it('should throw NotFoundException when nothing was deleted', async () => {
      repository.deleteOwned.mockResolvedValue([]);

      await expect(service.remove(CALLER, 17)).rejects.toThrow(NotFoundException);
    });

    it('should answer 412 and delete nothing when If-Match is stale', async () => {
      repository.lockOwned.mockResolvedValue(taskEntity({ version: 2 }));

      await expectPreconditionFailed(() => service.remove(CALLER, 17, '"17-1"'));

      expect(repository.lockOwned).toHaveBeenCalledWith(OWNER, 17);
      expect(repository.deleteOwned).not.toHaveBeenCalled();
    });

    it('should delete when If-Match matches', async () => {
      repository.lockOwned.mockResolvedValue(taskEntity({ version: 2 }));
      repository.deleteOwned.mockResolvedValue([17]);

      await service.remove(CALLER, 17, '"17-2"');

      expect(repository.deleteOwned).toHaveBeenCalledWith(OWNER, [17]);
    });

    it('should throw NotFoundException for a missing task even with If-Match', async () => {
      repository.lockOwned.mockResolvedValue(null);

      await expect(service.remove(CALLER, 17, '*')).rejects.toThrow(NotFoundException);
      expect(repository.deleteOwned).not.toHaveBeenCalled();
    });

    it.each(OUT_OF_RANGE_IDS)(
      'should throw NotFoundException for id %p without any repository call',
      async (id) => {
        await expect(service.remove(CALLER, id)).rejects.toThrow(NotFoundException);
        expect(ownedCalls({ tasks: repository, feed, keys })).toEqual([]);
      },
    );
  });

  describe('bulk', () => {
    beforeEach(() => {
      repository.updateOwned.mockImplementation((_owner, id, patch) =>
        Promise.resolve(taskEntity({ id, ...patch })),
      );
    });

    it('should deduplicate ids and report the missing ones in input order', async () => {
      repository.lockManyOwned.mockResolvedValue([
        taskEntity({ id: 1 }),
        taskEntity({ id: 3 }),
        taskEntity({ id: 7 }),
      ]);

      const reply = await service.bulk(CALLER, {
        action: 'complete',
        ids: [7, 99, 3, 7, 1, 98, 3],
      });

      expect(repository.lockManyOwned).toHaveBeenCalledWith(OWNER, [7, 99, 3, 1, 98]);
      expect(reply.body).toStrictEqual({ updated: [7, 3, 1], not_found: [99, 98] });
    });

    it('should never send out-of-range ids to the repository and count them as not found', async () => {
      repository.lockManyOwned.mockResolvedValue([taskEntity({ id: 5 })]);

      const reply = await service.bulk(CALLER, {
        action: 'complete',
        ids: [0, 5, -1, 2_147_483_648, 6],
      });

      expect(repository.lockManyOwned).toHaveBeenCalledWith(OWNER, [5, 6]);
      expect(reply.body).toStrictEqual({ updated: [5], not_found: [0, -1, 2_147_483_648, 6] });
    });

    it('should write only the tasks that are not already completed when completing', async () => {
      repository.lockManyOwned.mockResolvedValue([
        taskEntity({ id: 1, completed: false }),
        taskEntity({ id: 2, completed: true, completedAt: UPDATED }),
        taskEntity({ id: 3, completed: false }),
      ]);

      const reply = await service.bulk(CALLER, { action: 'complete', ids: [1, 2, 3] });

      expect(repository.updateOwned.mock.calls).toStrictEqual([
        [OWNER, 1, { completed: true, completedAt: NOW }],
        [OWNER, 3, { completed: true, completedAt: NOW }],
      ]);
      expect(reply.body.updated).toEqual([1, 2, 3]);
    });

    it('should write only the completed tasks when reopening', async () => {
      repository.lockManyOwned.mockResolvedValue([
        taskEntity({ id: 1, completed: false }),
        taskEntity({ id: 2, completed: true, completedAt: UPDATED }),
      ]);

      await service.bulk(CALLER, { action: 'reopen', ids: [1, 2] });

      expect(repository.updateOwned.mock.calls).toStrictEqual([
        [OWNER, 2, { completed: false, completedAt: null }],
      ]);
    });

    it('should create the next occurrence of a recurring task it completes', async () => {
      repository.lockManyOwned.mockResolvedValue([
        taskEntity({ id: 1, recurrence: 'weekly', dueDate: new Date('2026-12-01T00:00:00Z') }),
      ]);
      repository.createOwned.mockResolvedValue(taskEntity({ id: 50 }));

      await service.bulk(CALLER, { action: 'complete', ids: [1] });

      expect(repository.createOwned).toHaveBeenCalledTimes(1);
      expect(repository.createOwned.mock.calls[0][1].dueDate).toEqual(
        new Date('2026-12-08T00:00:00.000Z'),
      );
      expect(repository.updateOwned.mock.calls[0][2]).toMatchObject({ nextTaskId: 50 });
    });

    it('should delete through deleteOwned without locking or updating', async () => {
      repository.deleteOwned.mockResolvedValue([4, 2]);

      const reply = await service.bulk(CALLER, { action: 'delete', ids: [2, 3, 4, 2, 0] });

      expect(repository.deleteOwned).toHaveBeenCalledWith(OWNER, [2, 3, 4]);
      expect(repository.lockManyOwned).not.toHaveBeenCalled();
      expect(repository.updateOwned).not.toHaveBeenCalled();
      expect(reply.body).toStrictEqual({ updated: [2, 4], not_found: [3, 0] });
    });
  });

  describe('changes', () => {
    const changed = (id: number, changeXid: string) => ({ task: taskEntity({ id }), changeXid });
    const decode = (cursor: string) => Buffer.from(cursor, 'base64url').toString();
    const query = (since?: string, limit = 500) =>
      Object.assign(new ChangesQuery(), { since, limit });

    it('should list every task on a first sync, and no deletions, in one pass', async () => {
      feed.currentSnapshot.mockResolvedValue('812:815:813');
      feed.changedOwned.mockResolvedValue([changed(17, '700')]);

      const answer = await service.changes(CALLER, query());

      expect(feed.changedOwned).toHaveBeenCalledWith(OWNER, {
        upto: '812:815:813',
        deletions: false,
        afterXid: '0',
        afterId: 0,
        since: undefined,
        limit: 501,
      });
      expect(feed.deletedOwned).not.toHaveBeenCalled();
      expect(answer).toEqual({
        tasks: [expect.objectContaining({ id: 17 })],
        deleted_ids: [],
        cursor: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
        has_more: false,
      });
      expect(decode(answer.cursor)).toBe('c2/812:815:813');
    });

    it('should page through tasks, then deletions, then start the next pass at its snapshot', async () => {
      feed.currentSnapshot.mockResolvedValueOnce('900:900:');
      feed.changedOwned
        .mockResolvedValueOnce([changed(1, '850'), changed(2, '850'), changed(3, '851')])
        .mockResolvedValueOnce([changed(3, '851')]);
      feed.deletedOwned
        .mockResolvedValueOnce([
          { taskId: 9, changeXid: '860' },
          { taskId: 8, changeXid: '861' },
        ])
        .mockResolvedValueOnce([{ taskId: 8, changeXid: '861' }]);

      const first = await service.changes(CALLER, query(encodeCursor({ since: '800:800:' }), 2));
      const second = await service.changes(CALLER, query(first.cursor, 2));
      const third = await service.changes(CALLER, query(second.cursor, 2));

      expect([first, second, third].map((a) => [a.tasks.map((t) => t.id), a.deleted_ids])).toEqual([
        [[1, 2], []],
        [[3], [9]],
        [[], [8]],
      ]);
      expect([first, second, third].map((a) => a.has_more)).toEqual([true, true, false]);
      const pass = { since: '800:800:', upto: '900:900:' };
      expect(feed.changedOwned.mock.calls).toEqual([
        [OWNER, { ...pass, deletions: false, afterXid: '0', afterId: 0, limit: 3 }],
        [OWNER, { ...pass, deletions: false, afterXid: '850', afterId: 2, limit: 3 }],
      ]);
      expect(feed.deletedOwned.mock.calls).toEqual([
        [OWNER, { ...pass, deletions: false, afterXid: '0', afterId: 0, limit: 2 }],
        [OWNER, { ...pass, deletions: true, afterXid: '860', afterId: 9, limit: 3 }],
      ]);
      expect(feed.currentSnapshot).toHaveBeenCalledTimes(1);
      expect(decode(third.cursor)).toBe('c2/900:900:');
    });

    it('should accept a cursor issued before paging as the start of a pass', async () => {
      feed.currentSnapshot.mockResolvedValue('901:903:902');
      feed.changedOwned.mockResolvedValue([]);
      feed.deletedOwned.mockResolvedValue([{ taskId: 4, changeXid: '880' }]);

      const answer = await service.changes(CALLER, query(base64url('s:812:815:813')));

      expect(feed.deletedOwned).toHaveBeenCalledWith(
        OWNER,
        expect.objectContaining({ since: '812:815:813', upto: '901:903:902' }),
      );
      expect(answer.deleted_ids).toEqual([4]);
    });

    it.each([
      'garbage',
      '',
      base64url('x:abc'),
      base64url('x:812'),
      base64url('812:815:813'),
      base64url('s:abc'),
      base64url('s:812:815:813 '),
      base64url('s:0:5:'),
      base64url('s:9:5:'),
      base64url('s:5:9:4'),
      base64url('s:5:9:9'),
      base64url('s:5:9:7,6'),
      base64url('s:5:9:7,7'),
      base64url('s:5:99999999999999999999:'),
      base64url('s:5:9223372036854775808:'),
      base64url('c2/5:9:/5:9:/x/0/0'),
      base64url('c2/5:9:/5:9:/t/-1/0'),
      base64url('c2/5:9:/5:9:/t/0/2147483648'),
      base64url('c2/5:9:/5:9:/t/0/0/extra'),
      base64url('c2/5:9:/5:9:'),
    ])('should refuse the cursor %p with a 422 on since and query nothing', async (cursor) => {
      await expectValidationError(() => service.changes(CALLER, query(cursor)), ['query', 'since']);
      expect(ownedCalls({ tasks: repository, feed, keys })).toEqual([]);
      expect(feed.currentSnapshot).not.toHaveBeenCalled();
    });
  });

  describe('list', () => {
    it('should translate the query into a filter and echo the paging', async () => {
      repository.listOwned.mockResolvedValue({ tasks: [taskEntity({ priority: 3 })], total: 41 });
      const query = Object.assign(new ListTasksQuery(), {
        status: 'pending',
        priority: ['high', 'low'],
        q: 'milk',
        sort_by: 'due_date',
        limit: 10,
        offset: 20,
      });

      const page = await service.list(CALLER, query);

      expect(repository.listOwned).toHaveBeenCalledWith(
        OWNER,
        expect.objectContaining({
          status: 'pending',
          priorities: [3, 1],
          search: 'milk',
          sort: 'due_date',
          order: 'desc',
          limit: 10,
          offset: 20,
        }),
      );
      expect(page).toMatchObject({ total: 41, limit: 10, offset: 20 });
      expect(page.body).toEqual([expect.objectContaining({ id: 17, priority: 'high' })]);
    });

    it('should default to newest first', async () => {
      repository.listOwned.mockResolvedValue({ tasks: [], total: 0 });

      await service.list(CALLER, new ListTasksQuery());

      expect(repository.listOwned).toHaveBeenCalledWith(
        OWNER,
        expect.objectContaining({ status: 'all', sort: 'created_at', order: 'desc' }),
      );
    });

    it('should page by DEFAULT_PAGE_SIZE when the query names no limit: the maximum unless set', async () => {
      repository.listOwned.mockResolvedValue({ tasks: [], total: 0 });
      const configured = new TasksService(
        repository,
        transactions,
        new IdempotencyService(keys, transactions),
        new ChangesService(feed, new TaskWire()),
        new TaskWire(),
        { maxTasksPerUser: 10_000, defaultPageSize: 50 } as TasksConfig,
      );

      await expect(service.list(CALLER, new ListTasksQuery())).resolves.toMatchObject({
        limit: 1000,
      });
      await expect(configured.list(CALLER, new ListTasksQuery())).resolves.toMatchObject({
        limit: 50,
      });
      const limits = repository.listOwned.mock.calls.map(([, filter]) => filter.limit);
      expect(limits).toEqual([1000, 50]);
    });
  });

  describe('clearCompleted', () => {
    it('should count the deleted tasks', async () => {
      repository.deleteCompletedOwned.mockResolvedValue([3, 8]);

      await expect(service.clearCompleted(CALLER)).resolves.toEqual({ deleted: 2 });
      expect(repository.deleteCompletedOwned).toHaveBeenCalledWith(OWNER);
    });
  });

  describe('stats', () => {
    it("should return the owner's counts", async () => {
      const stats = { total: 5, completed: 2, pending: 3, overdue: 1, due_today: 1 };
      repository.statsOwned.mockResolvedValue(stats);

      await expect(service.stats(CALLER)).resolves.toEqual(stats);
      expect(repository.statsOwned).toHaveBeenCalledWith(OWNER);
    });
  });
});
