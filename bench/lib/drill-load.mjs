/**
 * The load of bench/drill.mjs and its ground truth.
 *
 * - `Ledger` remembers every write the API acknowledged (201 create with its id and title, 200
 *   update with the value written, 204 delete) and every write whose outcome is unknown (no
 *   answer, a reset, a 5xx), then checks the database directly: what was acknowledged must be
 *   there unless a write of unknown outcome may have changed it since.
 * - `startLoad` is a steady mixed load over keep-alive connections (node:http): list, create,
 *   patch, complete, delete and changes-feed reads, each by a random user with at most one request
 *   in flight per user, so a user's acknowledged writes are ordered. Every request becomes one
 *   event: when it was sent and answered, its status or its connection error, and whether it was
 *   fully written before the error (a reset of a written request is a dropped request).
 */
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const HOST = '127.0.0.1';

/** Writes acknowledged (and attempted) per task id; verify() compares them with the database. */
export class Ledger {
  constructor() {
    /** id → { user, title?, completed?, exists?, alts: { title, completed, exists } } */
    this.tasks = new Map();
    this.acked = { create: 0, update: 0, delete: 0 };
  }

  entry(id, user) {
    let task = this.tasks.get(id);
    if (!task) {
      task = { user, alts: { title: new Set(), completed: new Set(), exists: new Set() } };
      this.tasks.set(id, task);
    }
    return task;
  }

  /** A DELETE is on its way: until its answer, the row may be gone without anything wrong. */
  deleting(id, user) {
    this.entry(id, user).deleteSent = true;
  }

  /** A 201: the task exists with this title (and is not completed). */
  created(id, user, title) {
    this.acked.create++;
    Object.assign(this.entry(id, user), { title, completed: false, exists: true });
    this.fresh?.push(id);
  }

  /**
   * Checks, every `everyMs` from a direct connection, that each create acknowledged since the
   * last look is visible: a 201 must come after the commit, so another session sees the row at
   * once. A row the load has not tried to delete since and that is not there was acknowledged
   * before it was committed (it may still be committed later, or never). `stop()` resolves the
   * ids seen invisible.
   */
  watch(url, everyMs = 100) {
    this.fresh = [];
    const invisible = new Set();
    // A pool of one reconnects by itself after an outage; until then looks are put off.
    const client = new pg.Pool({
      connectionString: url,
      application_name: 'todo-api-drill',
      max: 1,
      connectionTimeoutMillis: 1000,
    });
    client.on('error', () => undefined);
    let stopped = false;
    const look = async () => {
      const ids = this.fresh.splice(0);
      if (!ids.length) return;
      try {
        const { rows } = await client.query('SELECT id FROM task WHERE id = ANY($1::int[])', [ids]);
        const found = new Set(rows.map((row) => row.id));
        for (const id of ids) {
          const task = this.tasks.get(id);
          if (!found.has(id) && task.exists === true && !task.deleteSent) {
            invisible.add(id);
          }
        }
      } catch {
        this.fresh.push(...ids); // no database right now: look again next time
      }
    };
    const loop = (async () => {
      while (!stopped) {
        await new Promise((resolve) => setTimeout(resolve, everyMs));
        await look();
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        await client.end().catch(() => undefined);
        this.fresh = undefined;
        return [...invisible];
      },
    };
  }

  /** A 200 or 204: these fields now hold these values (`exists: false` for a delete). */
  written(id, user, fields) {
    this.acked[fields.exists === false ? 'delete' : 'update']++;
    Object.assign(this.entry(id, user), fields);
  }

  /**
   * A write whose outcome is unknown: from now on the field may hold this value too. Never
   * forgotten, even after a later acknowledged write: the server may still apply it after that.
   */
  maybeWritten(id, user, fields) {
    const task = this.entry(id, user);
    for (const [field, value] of Object.entries(fields)) task.alts[field].add(value);
  }

  /**
   * Reads every task the ledger knows from a direct connection. Returns the number checked and
   * what is wrong: `lost-create` (an acknowledged create is not there), `lost-update` (a field
   * does not hold the acknowledged value), `lost-delete` (an acknowledged delete is still there).
   */
  async verify(client) {
    const ids = [...this.tasks.keys()];
    const rows = new Map();
    for (let i = 0; i < ids.length; i += 10_000) {
      const { rows: found } = await client.query(
        'SELECT id, user_id, title, completed FROM task WHERE id = ANY($1::int[])',
        [ids.slice(i, i + 10_000)],
      );
      for (const row of found) rows.set(row.id, row);
    }
    const problems = [];
    const allows = (task, field, value) => task[field] === value || task.alts[field].has(value);
    for (const [id, task] of this.tasks) {
      const row = rows.get(id);
      if (task.exists === true && !row && !task.alts.exists.has(false)) {
        problems.push({ id, kind: 'lost-create' }); // only an acknowledged create sets exists
      } else if (task.exists === false && row) {
        problems.push({ id, kind: 'lost-delete' });
      } else if (row && row.user_id !== task.user) {
        problems.push({ id, kind: 'wrong-owner' });
      } else if (row && task.title !== undefined && !allows(task, 'title', row.title)) {
        problems.push({ id, kind: 'lost-update', field: 'title' });
      } else if (row && task.completed !== undefined && !allows(task, 'completed', row.completed)) {
        problems.push({ id, kind: 'lost-update', field: 'completed' });
      }
    }
    return { checked: ids.length, problems };
  }
}

/** Where each request of the mix goes; weights add up to 1. */
export const MIX = [
  ['list', 0.3],
  ['create', 0.25],
  ['patch', 0.15],
  ['complete', 0.1],
  ['delete', 0.1],
  ['changes', 0.1],
];

/**
 * One HTTP request on a keep-alive agent. Resolves { status, body, headers } or { error } where
 * error is `refused`, `reset` (the request had been written: the server dropped it), `reset-early`
 * (the connection died before the request was written), `timeout` or `other`.
 */
export function send(agent, port, { method, path, token, body, headers = {} }, timeoutMs) {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const allHeaders = { ...headers };
    if (token) allHeaders.Authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      allHeaders['Content-Type'] = 'application/json';
      allHeaders['Content-Length'] = Buffer.byteLength(payload);
    }
    let written = false;
    let settled = false;
    const done = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = httpRequest(
      { agent, host: HOST, port, method, path, headers: allHeaders },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // not JSON: keep null
          }
          done({ status: res.statusCode, body: parsed, headers: res.headers });
        });
        res.on('error', () => done({ error: 'reset' }));
      },
    );
    req.on('finish', () => (written = true));
    req.on('error', (error) => {
      if (error.code === 'ECONNREFUSED') done({ error: 'refused' });
      else if (error.code === 'ECONNRESET' || error.message === 'socket hang up') {
        done({ error: written ? 'reset' : 'reset-early' });
      } else done({ error: error.code === 'TIMEOUT' ? 'timeout' : 'other', detail: error.code });
    });
    const timer = setTimeout(() => {
      done({ error: 'timeout' });
      req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }));
    }, timeoutMs);
    req.end(payload);
  });
}

export function keepAliveAgent(maxSockets) {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo' });
}

/**
 * Starts the mixed load: `concurrency` loops, each picking a free random user, sending one
 * request, then pausing `thinkMs`. `users` are { id, token | tokenFor(), tasks: [ids] } (ids the
 * load may patch, complete and delete; it adds what it creates). `ports`: the API processes,
 * taken in turn. `stop()` stops issuing, waits for what is in flight and resolves the events.
 */
export function startLoad({
  ports,
  users,
  ledger,
  tag,
  concurrency = 24,
  thinkMs = 20,
  timeoutMs = 15_000,
  token = (user) => user.token,
}) {
  const agents = new Map(ports.map((port) => [port, keepAliveAgent(concurrency)]));
  const events = [];
  const busy = new Uint8Array(users.length);
  let stopped = false;
  let seq = 0;
  let turn = 0;

  const pickUser = () => {
    for (let tries = 0; tries < 50; tries++) {
      const i = Math.floor(Math.random() * users.length);
      if (!busy[i]) return i;
    }
    return -1;
  };
  const pickKind = () => {
    let r = Math.random();
    for (const [kind, weight] of MIX) {
      if ((r -= weight) < 0) return kind;
    }
    return 'list';
  };

  async function once() {
    const i = pickUser();
    if (i < 0) return;
    busy[i] = 1;
    try {
      const user = users[i];
      let kind = pickKind();
      const own = user.tasks;
      if (kind !== 'list' && kind !== 'changes' && kind !== 'create' && own.length === 0) {
        kind = 'create';
      }
      const id = own.length ? own[Math.floor(Math.random() * own.length)] : undefined;
      const n = ++seq;
      let request;
      let fields;
      if (kind === 'list') request = { method: 'GET', path: '/api/tasks?limit=50' };
      else if (kind === 'changes') {
        const since = user.cursor ? `?since=${encodeURIComponent(user.cursor)}` : '';
        request = { method: 'GET', path: `/api/tasks/changes${since}` };
      } else if (kind === 'create') {
        request = { method: 'POST', path: '/api/tasks', body: { title: `drill ${tag} c${n}` } };
      } else if (kind === 'patch') {
        fields = { title: `drill ${tag} p${n}` };
        request = { method: 'PATCH', path: `/api/tasks/${id}`, body: fields };
      } else if (kind === 'complete') {
        fields = { completed: Math.random() < 0.5 };
        request = { method: 'PATCH', path: `/api/tasks/${id}/complete`, body: fields };
      } else {
        fields = { exists: false };
        request = { method: 'DELETE', path: `/api/tasks/${id}` };
      }
      if (kind === 'delete') ledger.deleting(id, user.id);
      const port = ports[turn++ % ports.length];
      const sentAt = performance.now();
      const result = await send(
        agents.get(port),
        port,
        { ...request, token: await token(user) },
        timeoutMs,
      );
      const event = {
        kind,
        port,
        sentAt,
        at: performance.now(),
        status: result.status ?? 0,
        error: result.error ?? null,
        close: result.headers?.connection === 'close',
      };
      events.push(event);
      record(user, kind, id, fields, request, result);
    } finally {
      busy[i] = 0;
    }
  }

  /** What the answer tells the ledger, and the user's own task list. */
  function record(user, kind, id, fields, request, { status, body, error }) {
    const ok = status >= 200 && status < 300;
    const unknown = error || status >= 500;
    if (kind === 'changes' && status === 200 && body?.cursor) user.cursor = body.cursor;
    if (kind === 'create' && status === 201 && Number.isInteger(body?.id)) {
      ledger.created(body.id, user.id, request.body.title);
      user.tasks.push(body.id);
    }
    if (kind === 'patch' || kind === 'complete' || kind === 'delete') {
      if (ok) ledger.written(id, user.id, fields);
      else if (unknown) ledger.maybeWritten(id, user.id, fields);
      // Gone (our delete went through, or an unknown one did): stop writing to it.
      const index = user.tasks.indexOf(id);
      if (index >= 0 && ((kind === 'delete' && (ok || unknown)) || status === 404)) {
        user.tasks.splice(index, 1);
      }
    }
  }

  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      await once();
      await new Promise((resolve) => setTimeout(resolve, thinkMs));
    }
  });

  return {
    events,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      for (const agent of agents.values()) agent.destroy();
      return events;
    },
  };
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Counts and timings of a list of events. `faultAt`/`faultEndAt` (performance.now() values, or
 * null): seconds from the fault to the first 503 answer, and from its end to the first 2xx answer
 * to a request sent after it; p50/p99 of the 2xx answers to requests sent inside the fault window
 * (or all of them without one).
 */
export function summarize(events, { faultAt = null, faultEndAt = null } = {}) {
  const byStatus = {};
  const errors = {};
  let ok = 0;
  let client = 0;
  let server = 0;
  let firstServiceUnavailable = null;
  let recovered = null;
  let lastFailureAfterEnd = null;
  const latencies = [];
  for (const e of events) {
    if (e.error) errors[e.error] = (errors[e.error] ?? 0) + 1;
    else {
      byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
      if (e.status < 300) ok++;
      else if (e.status < 500) client++;
      else server++;
    }
    if (faultAt !== null && e.status === 503 && e.at >= faultAt) {
      firstServiceUnavailable = Math.min(firstServiceUnavailable ?? Infinity, e.at - faultAt);
    }
    if (faultEndAt !== null && e.sentAt >= faultEndAt) {
      if (e.status >= 200 && e.status < 300) {
        recovered = Math.min(recovered ?? Infinity, e.at - faultEndAt);
      } else if (e.error || e.status >= 500) {
        lastFailureAfterEnd = Math.max(lastFailureAfterEnd ?? 0, e.at - faultEndAt);
      }
    }
    const inWindow =
      faultAt === null || (e.sentAt >= faultAt && (faultEndAt === null || e.sentAt < faultEndAt));
    if (!e.error && e.status < 300 && inWindow) latencies.push(e.at - e.sentAt);
  }
  latencies.sort((a, b) => a - b);
  const seconds = (ms) => (ms === null ? null : ms / 1000);
  return {
    requests: events.length,
    ok,
    client,
    server,
    byStatus,
    errors,
    connectionErrors: Object.values(errors).reduce((a, b) => a + b, 0),
    firstServiceUnavailableS: seconds(firstServiceUnavailable),
    recoveryS: seconds(recovered),
    lastFailureAfterEndS: seconds(lastFailureAfterEnd),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}
