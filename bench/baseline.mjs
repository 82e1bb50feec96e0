#!/usr/bin/env node
/**
 * The bare baseline for bench/run.mjs: what the three benchmarked routes cost with no framework.
 * node:http + one `pg` Pool (10 connections, like the API's default DATABASE_POOL_SIZE) +
 * HS256 verified with node:crypto. Same SQL shapes, same JSON (the field list of
 * src/tasks/tasks.mapper.ts `toTaskResponse`), same headers that matter (X-Total-Count, ETag).
 *
 *   GET  /api/tasks       newest first, LIMIT 100 OFFSET 0, X-Total-Count
 *   GET  /api/tasks/:id   404 {"detail": "Task not found"} when missing, ETag "id-version"
 *   POST /api/tasks       {"title": "…"} (trimmed, 1–200 chars), 201
 *   GET  /health/ready    200 once the database answers
 *
 * Environment: DATABASE_URL, BETTER_AUTH_SECRET, PORT (8000), HOST (127.0.0.1), WORKERS (1:
 * a single process; N > 1: a node:cluster primary forking N workers, like the API),
 * DATABASE_PREPARED_STATEMENTS (true: the two reads are named prepared statements, as the API
 * sends them by default; false: unnamed, planned per execution).
 * SIGTERM/SIGINT: stop accepting, finish in-flight requests, close the pool, exit 0.
 */
import cluster from 'node:cluster';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import pg from 'pg';

const WORKERS = Math.max(1, Number.parseInt(process.env.WORKERS ?? '1', 10) || 1);
const PORT = Number.parseInt(process.env.PORT ?? '8000', 10);
const HOST = process.env.HOST || '127.0.0.1';
const SECRET = process.env.BETTER_AUTH_SECRET ?? '';
const DATABASE_URL = process.env.DATABASE_URL;
const POOL_SIZE = 10;
// Like the API (DATABASE_PREPARED_STATEMENTS, default true): reads as named prepared statements,
// parsed and planned once per connection; writes as unnamed statements.
const PREPARED = !/^(false|0|no|off)$/i.test(process.env.DATABASE_PREPARED_STATEMENTS ?? '');
const CLOCK_TOLERANCE_S = 5; // the API's JWT_CLOCK_TOLERANCE_SECONDS default
const BODY_LIMIT = 1024 * 1024;

if (!DATABASE_URL || SECRET.length < 32) {
  console.error('baseline: DATABASE_URL and BETTER_AUTH_SECRET (32+ chars) are required');
  process.exit(1);
}

if (cluster.isPrimary && WORKERS > 1) supervise();
else serve();

function supervise() {
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`baseline: worker ${worker.process.pid} died (${signal ?? code}), stopping`);
      process.exitCode = 1;
      stop();
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork();
}

// ---------------------------------------------------------------------------------------------

const COLUMNS = `id, user_id, title, description, completed, priority, tags, due_date, remind_at,
  recurrence, recurrence_until, completed_at, next_task_id, version, created_at, updated_at`;
const LIST_SQL = `SELECT ${COLUMNS}, count(*) OVER () AS total_count FROM task
       WHERE user_id = $1
       ORDER BY created_at DESC, id DESC
       LIMIT $2 OFFSET $3`;
const FIND_SQL = `SELECT ${COLUMNS} FROM task WHERE id = $1 AND user_id = $2`;
const INSERT_SQL = `INSERT INTO task (user_id, title, description, completed, priority, tags, due_date,
         remind_at, recurrence, recurrence_until, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       RETURNING ${COLUMNS}`;

const PRIORITIES = ['low', 'medium', 'high'];
const iso = (date) => (date ? date.toISOString() : null);

/** Row → wire, the field list of `toTaskResponse` (src/tasks/tasks.mapper.ts). */
function toTaskResponse(row) {
  return {
    id: row.id,
    user_id: row.user_id,
    title: row.title,
    description: row.description,
    completed: row.completed,
    priority: PRIORITIES[row.priority - 1] ?? 'medium',
    tags: row.tags,
    due_date: iso(row.due_date),
    remind_at: iso(row.remind_at),
    recurrence: row.recurrence,
    recurrence_until: iso(row.recurrence_until),
    completed_at: iso(row.completed_at),
    next_task_id: row.next_task_id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

const etagOf = (row) => `"${row.id}-${row.version}"`;

function send(res, status, body, headers = {}) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

const unauthorized = (res, detail) => send(res, 401, { detail }, { 'WWW-Authenticate': 'Bearer' });
const invalid = (res, field, msg, type) =>
  send(res, 422, { detail: [{ loc: ['body', field], msg, type }] });

/** The `sub` of a valid HS256 token signed with BETTER_AUTH_SECRET, else null. */
function authenticate(header) {
  if (typeof header !== 'string' || header.length < 8) return null;
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  const token = header.slice(7).trim();
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) !== -1) return null;
  try {
    const head = JSON.parse(Buffer.from(token.slice(0, dot1), 'base64url').toString());
    if (head.alg !== 'HS256' || 'jwk' in head || 'jku' in head || 'x5u' in head) return null;
    const expected = createHmac('sha256', SECRET).update(token.slice(0, dot2)).digest();
    const signature = Buffer.from(token.slice(dot2 + 1), 'base64url');
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return null;
    const claims = JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString());
    if (typeof claims.exp !== 'number' || claims.exp + CLOCK_TOLERANCE_S <= Date.now() / 1000) {
      return null;
    }
    if (typeof claims.sub !== 'string' || claims.sub.trim() === '') return null;
    return claims.sub;
  } catch {
    return null;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > BODY_LIMIT) reject(Object.assign(new Error('too large'), { status: 413 }));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function serve() {
  const pool = new pg.Pool({
    connectionString: DATABASE_URL,
    max: POOL_SIZE,
    application_name: 'todo-api-baseline',
  });
  pool.on('error', (error) => console.error(`baseline: idle client error: ${error.message}`));

  const read = (name, text, values) =>
    PREPARED ? pool.query({ name, text, values }) : pool.query(text, values);

  async function list(res, userId) {
    const { rows } = await read('list', LIST_SQL, [userId, 100, 0]);
    const total = rows.length ? Number(rows[0].total_count) : 0;
    send(res, 200, rows.map(toTaskResponse), { 'X-Total-Count': String(total) });
  }

  async function findOne(res, userId, rawId) {
    const id = /^\d{1,10}$/.test(rawId) ? Number(rawId) : NaN;
    if (!(id <= 2147483647)) {
      send(res, 422, {
        detail: [{ loc: ['path', 'id'], msg: 'must be an integer', type: 'int_parsing' }],
      });
      return;
    }
    const { rows } = await read('find', FIND_SQL, [id, userId]);
    if (!rows.length) send(res, 404, { detail: 'Task not found' });
    else send(res, 200, toTaskResponse(rows[0]), { ETag: etagOf(rows[0]) });
  }

  async function create(req, res, userId) {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      send(res, 415, { detail: 'Content-Type must be application/json' });
      return;
    }
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      if (error?.status === 413) send(res, 413, { detail: 'Request body too large' });
      else invalid(res, 'body', 'Malformed JSON', 'json_invalid');
      return;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      invalid(res, 'body', 'must be an object', 'model_type');
      return;
    }
    const title = typeof body.title === 'string' ? body.title.trim() : undefined;
    if (title === undefined || title.length === 0 || title.length > 200) {
      invalid(res, 'title', 'must be 1-200 characters, not blank', 'string_type');
      return;
    }
    const description = body.description ?? null;
    if (description !== null && (typeof description !== 'string' || description.length > 1000)) {
      invalid(res, 'description', 'must be at most 1000 characters', 'string_type');
      return;
    }
    const { rows } = await pool.query(INSERT_SQL, [
      userId,
      title,
      description,
      false,
      2,
      [],
      null,
      null,
      null,
      null,
      null,
    ]);
    send(res, 201, toTaskResponse(rows[0]), { ETag: etagOf(rows[0]) });
  }

  async function route(req, res) {
    const q = req.url.indexOf('?');
    const path = q === -1 ? req.url : req.url.slice(0, q);
    if (path === '/health/ready' || path === '/health') {
      if (path === '/health/ready') await pool.query('SELECT 1');
      send(res, 200, { status: 'ok' });
      return;
    }
    if (path !== '/api/tasks' && !path.startsWith('/api/tasks/')) {
      send(res, 404, { detail: 'Not Found' });
      return;
    }
    const userId = authenticate(req.headers.authorization);
    if (!userId) {
      unauthorized(res, 'Invalid or missing token');
      return;
    }
    if (path === '/api/tasks') {
      if (req.method === 'GET') await list(res, userId);
      else if (req.method === 'POST') await create(req, res, userId);
      else send(res, 405, { detail: 'Method Not Allowed' });
      return;
    }
    const id = path.slice('/api/tasks/'.length);
    if (req.method === 'GET' && id && !id.includes('/')) await findOne(res, userId, id);
    else send(res, 404, { detail: 'Not Found' });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error) => {
      console.error(`baseline: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) send(res, 500, { detail: 'Internal Server Error' });
      else res.destroy();
    });
  });
  server.listen(PORT, HOST);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => server.closeAllConnections(), 5000);
    force.unref();
    server.close(() => {
      pool.end().finally(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
