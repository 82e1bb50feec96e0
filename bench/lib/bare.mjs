/**
 * What the two framework-free targets of bench/run.mjs share: the bare baseline
 * (bench/baseline.mjs, node:http) and the framework floor (bench/floor.mjs, NestJS + Express).
 * Same SQL as the API, same JSON (the field list of src/tasks/tasks.mapper.ts `toTaskResponse`),
 * HS256 checked with node:crypto, one `pg` Pool of 10 (the API's default DATABASE_POOL_SIZE).
 *
 * Environment: DATABASE_URL, BETTER_AUTH_SECRET, PORT (8000), HOST (127.0.0.1), WORKERS (1:
 * one process; N > 1: a node:cluster primary forking N workers, like the API),
 * DATABASE_PREPARED_STATEMENTS (true: the two reads are named prepared statements, as the API
 * sends them by default; false: unnamed, planned per execution).
 */
import cluster from 'node:cluster';
import { createHmac, timingSafeEqual } from 'node:crypto';
import pg from 'pg';

export const WORKERS = Math.max(1, Number.parseInt(process.env.WORKERS ?? '1', 10) || 1);
export const PORT = Number.parseInt(process.env.PORT ?? '8000', 10);
export const HOST = process.env.HOST || '127.0.0.1';
const SECRET = process.env.BETTER_AUTH_SECRET ?? '';
const DATABASE_URL = process.env.DATABASE_URL;
const POOL_SIZE = 10;
// Like the API (DATABASE_PREPARED_STATEMENTS, default true): reads as named prepared statements,
// parsed and planned once per connection; writes as unnamed statements.
const PREPARED = !/^(false|0|no|off)$/i.test(process.env.DATABASE_PREPARED_STATEMENTS ?? '');
const CLOCK_TOLERANCE_S = 5; // the API's JWT_CLOCK_TOLERANCE_SECONDS default
export const BODY_LIMIT = 1024 * 1024;

/**
 * Runs `serve` in this process (WORKERS=1), or forks WORKERS processes that each run it; the
 * primary stops them all on SIGTERM/SIGINT and exits when they are gone.
 */
export function start(name, serve) {
  if (!DATABASE_URL || SECRET.length < 32) {
    console.error(`${name}: DATABASE_URL and BETTER_AUTH_SECRET (32+ chars) are required`);
    process.exit(1);
  }
  if (!cluster.isPrimary || WORKERS <= 1) {
    serve();
    return;
  }
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`${name}: worker ${worker.process.pid} died (${signal ?? code}), stopping`);
      process.exitCode = 1;
      stop();
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork();
}

/** On SIGTERM/SIGINT: `close` (stop accepting, finish in-flight requests), then exit 0. */
export function onStop(close) {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

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
export function toTaskResponse(row) {
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

export const etagOf = (row) => `"${row.id}-${row.version}"`;

/** The `sub` of a valid HS256 token signed with BETTER_AUTH_SECRET, else null. */
export function authenticate(header) {
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

/** A path `:id` as the API accepts it (a positive int4), else NaN. */
export function parseTaskId(raw) {
  const id = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  return id <= 2147483647 ? id : NaN;
}

/**
 * The create body's rules the benchmark exercises: an object, a trimmed 1–200 character title,
 * an optional description up to 1,000. Returns `{ title, description }` or `{ error }` (a
 * FastAPI-shaped 422 detail).
 */
export function checkCreateBody(body) {
  const invalid = (field, msg, type) => ({ error: [{ loc: ['body', field], msg, type }] });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid('body', 'must be an object', 'model_type');
  }
  const title = typeof body.title === 'string' ? body.title.trim() : undefined;
  if (title === undefined || title.length === 0 || title.length > 200) {
    return invalid('title', 'must be 1-200 characters, not blank', 'string_type');
  }
  const description = body.description ?? null;
  if (description !== null && (typeof description !== 'string' || description.length > 1000)) {
    return invalid('description', 'must be at most 1000 characters', 'string_type');
  }
  return { title, description };
}

/** The pool and the three statements, each resolving to rows. */
export function openTasks(applicationName) {
  const pool = new pg.Pool({
    connectionString: DATABASE_URL,
    max: POOL_SIZE,
    application_name: applicationName,
  });
  pool.on('error', (error) =>
    console.error(`${applicationName}: idle client error: ${error.message}`),
  );
  const read = (name, text, values) =>
    PREPARED ? pool.query({ name, text, values }) : pool.query(text, values);
  return {
    pool,
    /** Newest first, LIMIT 1000 OFFSET 0 (the API's default page size), with the total. */
    async list(userId) {
      const { rows } = await read('list', LIST_SQL, [userId, 1000, 0]);
      return { rows, total: rows.length ? Number(rows[0].total_count) : 0 };
    },
    async find(userId, id) {
      const { rows } = await read('find', FIND_SQL, [id, userId]);
      return rows[0];
    },
    async insert(userId, { title, description }) {
      const values = [userId, title, description, false, 2, [], null, null, null, null, null];
      const { rows } = await pool.query(INSERT_SQL, values);
      return rows[0];
    },
  };
}
