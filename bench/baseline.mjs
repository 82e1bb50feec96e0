#!/usr/bin/env node
/**
 * The bare baseline for bench/run.mjs: what the three benchmarked routes cost with no framework.
 * node:http + the pool, SQL, JSON and HS256 check of bench/lib/bare.mjs, and the headers that
 * matter (X-Total-Count, ETag).
 *
 *   GET  /api/tasks       newest first, LIMIT 1000 OFFSET 0 (the API's default page, DEFAULT_PAGE_SIZE), X-Total-Count
 *   GET  /api/tasks/:id   404 {"detail": "Task not found"} when missing, ETag "id-version"
 *   POST /api/tasks       {"title": "…"} (trimmed, 1–200 chars), 201
 *   GET  /health/ready    200 once the database answers
 *
 * Environment: see bench/lib/bare.mjs. SIGTERM/SIGINT: stop accepting, finish in-flight
 * requests, close the pool, exit 0.
 */
import { createServer } from 'node:http';
import {
  authenticate,
  BODY_LIMIT,
  checkCreateBody,
  etagOf,
  HOST,
  onStop,
  openTasks,
  parseTaskId,
  PORT,
  start,
  toTaskResponse,
} from './lib/bare.mjs';

start('baseline', serve);

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
  const tasks = openTasks('todo-api-baseline');

  async function list(res, userId) {
    const { rows, total } = await tasks.list(userId);
    send(res, 200, rows.map(toTaskResponse), { 'X-Total-Count': String(total) });
  }

  async function findOne(res, userId, rawId) {
    const id = parseTaskId(rawId);
    if (Number.isNaN(id)) {
      send(res, 422, {
        detail: [{ loc: ['path', 'id'], msg: 'must be an integer', type: 'int_parsing' }],
      });
      return;
    }
    const row = await tasks.find(userId, id);
    if (!row) send(res, 404, { detail: 'Task not found' });
    else send(res, 200, toTaskResponse(row), { ETag: etagOf(row) });
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
    const fields = checkCreateBody(body);
    if (fields.error) {
      send(res, 422, { detail: fields.error });
      return;
    }
    const row = await tasks.insert(userId, fields);
    send(res, 201, toTaskResponse(row), { ETag: etagOf(row) });
  }

  async function route(req, res) {
    const q = req.url.indexOf('?');
    const path = q === -1 ? req.url : req.url.slice(0, q);
    if (path === '/health/ready' || path === '/health') {
      if (path === '/health/ready') await tasks.pool.query('SELECT 1');
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

  onStop(
    () =>
      new Promise((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 5000);
        force.unref();
        server.close(() => tasks.pool.end().finally(resolve));
        server.closeIdleConnections();
      }),
  );
}
