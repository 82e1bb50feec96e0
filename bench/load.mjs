#!/usr/bin/env node
/**
 * The HTTP load generator of bench/run.mjs, one scenario per process (so that it can be pinned to
 * a core and its CPU time is its own):
 *
 *   node bench/load.mjs <scenario.json>
 *
 * The scenario file holds { port, mode: 'closed'|'open', connections, rate, mix: {list, get},
 * warmupMs, durationMs, drainMs, timeoutMs, client: 'raw'|'http', dataFile }. The data file holds
 * { tokens: [...], ids: [[...], ...] }: one pre-minted HS256 token per seeded user and that user's
 * task ids. Every request picks a random user, so the server sees thousands of distinct callers.
 *
 * - closed loop: `connections` keep-alive connections, each sends its next request as soon as
 *   the previous answer is in. Counted: answers that arrive in the measured window.
 * - open loop: Poisson arrivals (exponential gaps) at `rate` per second, each sent on a free
 *   connection or, when all `connections` are busy, queued until one frees up. Latency runs from
 *   the SCHEDULED arrival time, so queueing shows. Arrivals stop at the end of the window; the
 *   ones scheduled in the window still unanswered after `drainMs` are counted as unfinished
 *   (errors) and enter the percentiles with the time they had waited so far.
 *
 * Client `raw` (default) speaks HTTP/1.1 over net sockets (Content-Length and chunked bodies, no
 * pipelining); `http` uses node:http with a keep-alive Agent.
 *
 * stdout: one JSON line per event, {"event":"measure-start"}, {"event":"measure-end"}, then
 * {"event":"done","result":{…}}.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const {
  port,
  mode,
  connections,
  rate = 0,
  mix,
  warmupMs,
  durationMs,
  drainMs = 2000,
  timeoutMs = 10_000,
  client = 'raw',
} = config;
const { tokens, ids } = JSON.parse(readFileSync(config.dataFile, 'utf8'));
const HOST = '127.0.0.1';
const hostHeader = `${HOST}:${port}`;
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

// --- requests ----------------------------------------------------------------------------------

const used = new Uint8Array(tokens.length);
let distinctUsers = 0;
let postSeq = 0;
const sentByKind = { list: 0, get: 0, create: 0 };

/** A random user's next request, following the scenario's mix. */
function nextRequest() {
  const user = Math.floor(Math.random() * tokens.length);
  if (!used[user]) {
    used[user] = 1;
    distinctUsers++;
  }
  const r = Math.random();
  const token = tokens[user];
  if (r < mix.list) return { kind: 'list', method: 'GET', path: '/api/tasks', token };
  if (r < mix.list + mix.get) {
    const own = ids[user];
    const id = own[Math.floor(Math.random() * own.length)];
    return { kind: 'get', method: 'GET', path: `/api/tasks/${id}`, token };
  }
  postSeq++;
  return {
    kind: 'create',
    method: 'POST',
    path: '/api/tasks',
    token,
    body: `{"title":"bench ${postSeq}"}`,
  };
}

function rawRequest(req) {
  const head = `${req.method} ${req.path} HTTP/1.1\r\nHost: ${hostHeader}\r\nAuthorization: Bearer ${req.token}\r\n`;
  return req.body === undefined
    ? `${head}\r\n`
    : `${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(req.body)}\r\n\r\n${req.body}`;
}

// --- connections -------------------------------------------------------------------------------

let reconnects = 0;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/** One keep-alive HTTP/1.1 connection over a net socket; one request at a time. */
class RawConnection {
  constructor(onDone) {
    this.onDone = onDone;
    this.socket = null;
    this.pending = null; // { sched, sentAt }
    this.opened = 0;
  }

  open() {
    if (this.opened++ > 0) reconnects++;
    const socket = connect({ host: HOST, port });
    socket.setNoDelay(true);
    this.socket = socket;
    this.resetParser();
    socket.on('data', (chunk) => this.socket === socket && this.onData(chunk));
    const lost = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.fail('socket');
    };
    socket.on('error', lost);
    socket.on('close', lost);
    return new Promise((resolve) => {
      socket.once('connect', resolve);
      socket.once('error', resolve);
    });
  }

  resetParser() {
    this.buf = null;
    this.bodyStart = -1;
    this.length = 0;
    this.chunked = false;
    this.closeAfter = false;
    this.status = 0;
  }

  send(req, sched) {
    if (!this.socket) void this.open();
    this.pending = { sched, sentAt: performance.now(), kind: req.kind };
    this.socket.write(rawRequest(req), 'latin1');
  }

  onData(chunk) {
    if (!this.pending) return; // nothing asked: ignore
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.bodyStart < 0) {
      const end = this.buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end).toLowerCase();
      this.status = Number.parseInt(head.slice(9, 12), 10);
      const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
      this.chunked = !length && /\r\ntransfer-encoding:[^\r]*chunked/.test(head);
      this.closeAfter = /\r\nconnection:\s*close/.test(head);
      this.length = length ? Number(length[1]) : 0;
      this.bodyStart = end + 4;
    }
    if (this.chunked) {
      const tail = this.buf.subarray(this.buf.length - LAST_CHUNK.length);
      if (this.buf.length < this.bodyStart + LAST_CHUNK.length || !tail.equals(LAST_CHUNK)) return;
    } else if (this.buf.length < this.bodyStart + this.length) {
      return;
    }
    const { status, closeAfter } = this;
    this.resetParser();
    if (closeAfter) {
      const socket = this.socket;
      this.socket = null;
      socket.destroy();
    }
    this.finish(status, null);
  }

  finish(status, error) {
    const pending = this.pending;
    this.pending = null;
    this.onDone(this, pending, status, error);
  }

  fail(error) {
    this.resetParser();
    if (this.pending) this.finish(0, error);
  }

  timeout() {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    this.fail('timeout');
  }
}

/** The same interface over node:http and a shared keep-alive Agent. */
class HttpConnection {
  static agent = null;

  constructor(onDone) {
    HttpConnection.agent ??= new Agent({
      keepAlive: true,
      maxSockets: connections,
      maxFreeSockets: connections,
      scheduling: 'fifo',
    });
    this.onDone = onDone;
    this.pending = null;
    this.request = null;
  }

  open() {
    return Promise.resolve();
  }

  send(req, sched) {
    const pending = { sched, sentAt: performance.now(), kind: req.kind };
    this.pending = pending;
    const headers = { Authorization: `Bearer ${req.token}` };
    if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(req.body);
    }
    const request = httpRequest(
      {
        agent: HttpConnection.agent,
        host: HOST,
        port,
        method: req.method,
        path: req.path,
        headers,
      },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => this.pending === pending && this.finish(res.statusCode, null));
        res.on('error', () => this.pending === pending && this.finish(0, 'socket'));
      },
    );
    request.on('error', () => this.pending === pending && this.finish(0, 'socket'));
    this.request = request;
    request.end(req.body);
  }

  finish(status, error) {
    const pending = this.pending;
    this.pending = null;
    this.request = null;
    this.onDone(this, pending, status, error);
  }

  timeout() {
    const request = this.request;
    this.finish(0, 'timeout');
    request?.destroy();
  }
}

// --- measurement -------------------------------------------------------------------------------

const latencies = []; // ms, answered 2xx in the measured set
const statuses = {};
const errors = { status: 0, socket: 0, timeout: 0, unfinished: 0 };
const doneByKind = { list: 0, get: 0, create: 0 };
let ok = 0; // 2xx answered inside the measured window (throughput)
let queued = 0; // open loop: measured arrivals that found no free connection
let maxQueue = 0;

const Connection = client === 'http' ? HttpConnection : RawConnection;
const pool = Array.from({ length: connections }, () => new Connection(onDone));

// Pre-connect in batches: 1,000 simultaneous SYNs would overflow the listen backlog.
const connectStarted = performance.now();
if (client === 'raw') {
  for (let i = 0; i < pool.length; i += 100) {
    await Promise.all(pool.slice(i, i + 100).map((c) => c.open()));
  }
}
const connectMs = performance.now() - connectStarted;

const t0 = performance.now();
const mStart = t0 + warmupMs;
const mEnd = mStart + durationMs;
let cpuAtStart;
let eluAtStart;
let cpu;
let elu;
let stopped = false;

setTimeout(() => {
  cpuAtStart = process.cpuUsage();
  eluAtStart = performance.eventLoopUtilization();
  emit({ event: 'measure-start' });
}, warmupMs);

setTimeout(() => {
  cpu = process.cpuUsage(cpuAtStart);
  elu = performance.eventLoopUtilization(eluAtStart);
  emit({ event: 'measure-end' });
  if (mode === 'closed') finish();
  else {
    // Let the requests scheduled in the window finish, for at most drainMs.
    const drained = () => queueHead >= queue.length && pool.every((conn) => !conn.pending);
    const deadline = performance.now() + drainMs;
    const poll = setInterval(() => {
      if (drained() || performance.now() >= deadline) {
        clearInterval(poll);
        finish();
      }
    }, 20);
  }
}, warmupMs + durationMs);

/** In the open loop the measured set is "scheduled inside the window"; closed: "answered in it". */
const inWindow = (t) => t >= mStart && t < mEnd;

function onDone(conn, pending, status, error) {
  const now = performance.now();
  const counted = mode === 'open' ? inWindow(pending.sched) : inWindow(now);
  if (status >= 200 && status < 300 && inWindow(now)) ok++;
  if (counted) {
    if (error) errors[error]++;
    else {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) {
        latencies.push(now - pending.sched);
        doneByKind[pending.kind]++;
      } else errors.status++;
    }
  }
  if (stopped) return;
  if (mode === 'closed') {
    if (now >= mEnd) return;
    // After a lost connection, pause a little so a dead server is not hammered in a tight loop.
    if (error) setTimeout(() => !stopped && issue(conn, performance.now()), 10);
    else issue(conn, now);
  } else if (queueHead < queue.length) {
    const sched = queue[queueHead++];
    if (queueHead > 4096 && queueHead * 2 > queue.length) {
      queue.splice(0, queueHead);
      queueHead = 0;
    }
    issue(conn, sched);
  } else free.push(conn);
}

function issue(conn, sched) {
  const req = nextRequest();
  sentByKind[req.kind]++;
  conn.send(req, sched);
}

// A request with no answer after timeoutMs is cut off (its connection is replaced).
setInterval(() => {
  const limit = performance.now() - timeoutMs;
  for (const conn of pool) if (conn.pending && conn.pending.sentAt < limit) conn.timeout();
}, 250).unref();

// --- the two loops -----------------------------------------------------------------------------

const free = [];
const queue = [];
let queueHead = 0;

if (mode === 'closed') {
  for (const conn of pool) issue(conn, performance.now());
} else {
  free.push(...pool);
  const gap = () => (-Math.log(1 - Math.random()) * 1000) / rate;
  let next = t0 + gap();
  const tick = () => {
    const now = performance.now();
    while (next <= now && next < mEnd) {
      const conn = free.pop();
      if (conn) issue(conn, next);
      else {
        queue.push(next);
        if (inWindow(next)) queued++;
        maxQueue = Math.max(maxQueue, queue.length - queueHead);
      }
      next += gap();
    }
    if (next < mEnd) setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function finish() {
  if (stopped) return;
  stopped = true;
  const now = performance.now();
  if (mode === 'open') {
    // Scheduled in the window and still waiting: unfinished, with the wait so far as latency.
    const waiting = queue.slice(queueHead).filter(inWindow);
    for (const conn of pool) {
      if (conn.pending && inWindow(conn.pending.sched)) waiting.push(conn.pending.sched);
    }
    errors.unfinished = waiting.length;
    for (const sched of waiting) latencies.push(now - sched);
  }
  latencies.sort((a, b) => a - b);
  const seconds = durationMs / 1000;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  emit({
    event: 'done',
    result: {
      client,
      mode,
      connections,
      rate: mode === 'open' ? rate : null,
      reqPerSec: ok / seconds,
      ok,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.length ? latencies[latencies.length - 1] : null,
      samples: latencies.length,
      errors: errors.status + errors.socket + errors.timeout + errors.unfinished,
      errorDetail: { ...errors },
      statuses,
      doneByKind,
      sentByKind,
      queued: mode === 'open' ? queued : null,
      maxQueue: mode === 'open' ? maxQueue : null,
      reconnects,
      connectMs,
      distinctUsers,
      users: tokens.length,
      loadgenCpuPct: (cpuMs / durationMs) * 100,
      loadgenEventLoopUtilization: elu.utilization,
    },
  });
  process.exit(0);
}
