import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DataSource } from 'typeorm';
import { BetterAuthSessionRepository } from '../src/auth/session.repository';
import { GuardedClient } from '../src/database/connection-guard';
import { Transactions } from '../src/database/transactions';
import { IdempotencyRepository } from '../src/tasks/idempotency/idempotency.repository';
import { ChangesRepository } from '../src/tasks/sync/changes.repository';
import { TaskListFilter, SORT_FIELDS } from '../src/tasks/task.types';
import { TasksRepository } from '../src/tasks/tasks.repository';
import { createTestApp } from './support/app';
import { newUser } from './support/tokens';

/**
 * Every statement the repositories send, as sent on the wire (GuardedClient.query), checked
 * against the `.sql` snapshots beside each repository, so a query change shows in review.
 * `npm run sql:update` (SQL_UPDATE=1) rewrites the files instead of comparing.
 */
const FILES = {
  tasks: 'src/tasks/queries/tasks.repository.sql',
  changes: 'src/tasks/sync/queries/changes.repository.sql',
  idempotency: 'src/tasks/idempotency/queries/idempotency.repository.sql',
  sessions: 'src/auth/queries/session.repository.sql',
};
/** The transaction's own messages (see inTransaction), not the repositories'. */
const PLUMBING = /^(START TRANSACTION|BEGIN|COMMIT|ROLLBACK|SET TRANSACTION|SET LOCAL)/;

describe('SQL snapshots', () => {
  let app: NestExpressApplication;
  let sent: string[];
  let spy: jest.SpyInstance;
  const snapshots: Record<keyof typeof FILES, string[]> = {
    tasks: [],
    changes: [],
    idempotency: [],
    sessions: [],
  };

  beforeAll(async () => {
    app = await createTestApp();
    const query = GuardedClient.prototype.query;
    spy = jest.spyOn(GuardedClient.prototype, 'query').mockImplementation(function (
      this: GuardedClient,
      ...args: unknown[]
    ) {
      const [first] = args;
      const text = typeof first === 'string' ? first : (first as { text?: string })?.text;
      if (text !== undefined && !PLUMBING.test(text)) sent.push(text);
      return query.apply(this, args);
    });
  });
  afterAll(async () => {
    spy.mockRestore();
    await app?.close();
  });

  /** Runs `work` and files what it sent under `file`, headed by `name`. */
  async function record(file: keyof typeof FILES, name: string, work: () => Promise<unknown>) {
    sent = [];
    await work();
    expect(sent.length).toBeGreaterThan(0);
    for (const sql of sent) snapshots[file].push(`-- ${name}\n${sql};\n`);
  }

  it('should send exactly the statements in the .sql files', async () => {
    const tasks = app.get(TasksRepository);
    const changes = app.get(ChangesRepository);
    const keys = app.get(IdempotencyRepository);
    const transactions = app.get(Transactions);
    const owner = (await newUser()).id;
    const inTx = <T>(work: (tx: TasksRepository) => Promise<T>) =>
      transactions.run((manager) => work(tasks.in(manager)));

    const fields = {
      title: 'Snapshot',
      completed: false,
      priority: 2,
      tags: ['home'],
      completedAt: null,
    };
    let id = 0;
    await record('tasks', 'createOwned', async () => {
      id = (await inTx((tx) => tx.createOwned(owner, fields, 10)))!.id;
    });
    await inTx((tx) => tx.createOwned(owner, fields, 10));
    await record('tasks', 'lockTaskQuota', () => inTx((tx) => tx.lockTaskQuota(owner)));
    await record('tasks', 'findOwned', () => tasks.findOwned(owner, id));
    await record('tasks', 'lockOwned', () => inTx((tx) => tx.lockOwned(owner, id)));
    await record('tasks', 'lockManyOwned', () => inTx((tx) => tx.lockManyOwned(owner, [id])));
    await record('tasks', 'updateOwned (title, description)', () =>
      inTx((tx) => tx.updateOwned(owner, id, { title: 'Renamed', description: null })),
    );
    await record('tasks', 'updateOwned (completed, completedAt, nextTaskId)', () =>
      inTx((tx) =>
        tx.updateOwned(owner, id, { completed: true, completedAt: new Date(), nextTaskId: null }),
      ),
    );
    await record('tasks', 'statsOwned', () => tasks.statsOwned(owner));

    const list = (name: string, filter: Partial<TaskListFilter>) =>
      record('tasks', `listOwned (${name})`, () =>
        tasks.listOwned(owner, {
          status: 'all',
          sort: 'created_at',
          order: 'desc',
          limit: 100,
          offset: 0,
          ...filter,
        }),
      );
    await list('defaults', {});
    await list('a full page: the count too', { limit: 1 });
    await list('status=pending', { status: 'pending' });
    await list('status=completed', { status: 'completed' });
    await list('priority', { priorities: [3, 2] });
    await list('tags', { tags: ['home'] });
    await list('due_before', { dueBefore: new Date() });
    await list('due_after', { dueAfter: new Date() });
    await list('overdue=true', { overdue: true });
    await list('overdue=false', { overdue: false });
    await list('updated_since', { updatedSince: new Date(0) });
    await list('search', { search: '50%_off' });
    for (const sort of SORT_FIELDS) {
      for (const order of ['asc', 'desc'] as const)
        await list(`sort=${sort}&order=${order}`, { sort, order });
    }

    const upto = await changes.currentSnapshot();
    await record('changes', 'currentSnapshot', () => changes.currentSnapshot());
    const window = { upto, afterXid: '0', afterId: 0, limit: 10 };
    await record('changes', 'changedOwned (first sync)', () => changes.changedOwned(owner, window));
    await record('changes', 'changedOwned (since a cursor)', () =>
      changes.changedOwned(owner, { ...window, since: upto }),
    );
    await record('changes', 'deletedOwned (first sync)', () => changes.deletedOwned(owner, window));
    await record('changes', 'deletedOwned (since a cursor)', () =>
      changes.deletedOwned(owner, { ...window, since: upto }),
    );
    await record('tasks', 'deleteOwned', async () => {
      await inTx((tx) => tx.deleteOwned(owner, [id]));
    });
    await record('changes', 'rememberDeletedOwned', () =>
      transactions.run((manager) =>
        changes.in(manager).rememberDeletedOwned(owner, [2_000_000_000]),
      ),
    );
    await record('tasks', 'deleteCompletedOwned', () =>
      inTx((tx) => tx.deleteCompletedOwned(owner)),
    );
    await record('changes', 'purgeExpired', () => changes.purgeExpired(35));

    await record('idempotency', 'claimOwned', () =>
      transactions.run((manager) => keys.in(manager).claimOwned(owner, 'k', 'a'.repeat(64))),
    );
    await record('idempotency', 'storeReplyOwned', () =>
      transactions.run((manager) =>
        keys.in(manager).storeReplyOwned(owner, 'k', { status: 201, body: {}, etag: '"1-1"' }),
      ),
    );
    await record('idempotency', 'findOwned', () => keys.findOwned(owner, 'k'));
    await record('idempotency', 'purgeExpired', () => keys.purgeExpired(48));

    // Better Auth's session table (session tokens, database mode): the test's Better Auth keeps
    // it in the better_auth schema. Its columns are read once, at the first lookup.
    const sessions = new BetterAuthSessionRepository(
      app.get(DataSource).manager,
      process.env.SESSION_AUTH_TABLE as string,
    );
    await record('sessions', 'columns of the table, then find by token', () =>
      sessions.find({ token: 'a'.repeat(32) }),
    );
    await record('sessions', 'find by token', () => sessions.find({ token: 'a'.repeat(32) }));

    for (const [name, path] of Object.entries(FILES)) {
      const text =
        '-- Generated by test/sql-snapshots.e2e-spec.ts: `npm run sql:update` rewrites it.\n\n' +
        snapshots[name as keyof typeof FILES].join('\n');
      const file = join(__dirname, '..', path);
      if (process.env.SQL_UPDATE === '1') {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      } else {
        expect(existsSync(file) ? readFileSync(file, 'utf8') : `(missing ${path})`).toBe(text);
      }
    }
  });
});
