import { Agent, request as httpRequest } from 'node:http';
import { Client } from 'pg';
import { QUIET_SOCKET_MS } from '../src/common/http-drain';
import { BuiltApi, buildIfStale, startBuiltApi } from './support/built-api';
import { newUser, TestUser } from './support/tokens';

const SHUTDOWN_TIMEOUT_MS = 10000;

interface Outcome {
  /** Sent after SIGTERM (ms since it; negative: before). */
  sentAt: number;
  /** When the whole response had arrived, on the same clock. */
  answeredAt?: number;
  /** The request's bytes were handed to the socket. */
  written: boolean;
  status?: number;
  connection?: string;
  /** The whole response arrived. */
  complete: boolean;
  error?: string;
  createdId?: number;
  path: string;
}

/** One request on a keep-alive agent, with what happened to it on the wire. */
function send(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  user: TestUser,
  t0: () => number,
  body?: object,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { sentAt: t0(), written: false, complete: false, path };
    const payload = body && JSON.stringify(body);
    const req = httpRequest(
      {
        agent,
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          ...user.auth,
          ...(payload && { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        outcome.status = res.statusCode;
        outcome.connection = res.headers.connection;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          outcome.complete = true;
          outcome.answeredAt = t0();
          if (res.statusCode === 201) outcome.createdId = (JSON.parse(text) as { id: number }).id;
          resolve(outcome);
        });
        res.on('error', (error: NodeJS.ErrnoException) => {
          outcome.error = error.code ?? error.message;
          resolve(outcome);
        });
      },
    );
    req.on('finish', () => (outcome.written = true));
    req.on('error', (error: NodeJS.ErrnoException) => {
      outcome.error = error.code ?? error.message;
      resolve(outcome);
    });
    req.end(payload);
  });
}

interface Run {
  outcomes: Outcome[];
  /** Each load client's outcomes, in order. */
  byClient: Outcome[][];
  readiness: { at: number; status?: number; connection?: string }[];
  exit: { code: number | null; signal: NodeJS.Signals | null; afterMs: number };
}

/**
 * Steady keep-alive load (reads and creates from several clients, one socket each) plus a
 * readiness poller, then SIGTERM: every client keeps sending until its connection is refused.
 */
async function sigtermUnderLoad(api: BuiltApi, clients = 6): Promise<Run> {
  let sigtermAt = 0;
  const t0 = () => performance.now(); // made relative to SIGTERM at the end
  const users = await Promise.all(Array.from({ length: clients }, () => newUser()));
  const outcomes: Outcome[] = [];
  const byClient: Outcome[][] = users.map(() => []);
  const readiness: Run['readiness'] = [];
  let exited = false;
  void api.exited.then(() => (exited = true));

  const client = async (user: TestUser, index: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; !exited; i++) {
      const outcome =
        (i + index) % 2 === 0
          ? await send(agent, api.port, 'POST', '/api/tasks', user, t0, { title: `t${i}` })
          : await send(agent, api.port, 'GET', '/api/tasks?limit=20', user, t0);
      outcomes.push(outcome);
      byClient[index].push(outcome);
      if (outcome.error) break; // refused: the server is gone for this client
    }
    agent.destroy();
  };
  const poller = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const probe = await newUser();
    while (!exited) {
      const outcome = await send(agent, api.port, 'GET', '/health/ready', probe, t0);
      if (outcome.error) break;
      readiness.push({
        at: outcome.sentAt,
        status: outcome.status,
        connection: outcome.connection,
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    agent.destroy();
  };

  const load = [...users.map(client), poller()];
  await new Promise((resolve) => setTimeout(resolve, 1500));
  sigtermAt = performance.now();
  api.child.kill('SIGTERM');
  const exit = await api.exited;
  await Promise.all(load);
  for (const outcome of outcomes) {
    outcome.sentAt -= sigtermAt;
    if (outcome.answeredAt !== undefined) outcome.answeredAt -= sigtermAt;
  }
  for (const probe of readiness) probe.at -= sigtermAt;
  return {
    outcomes,
    byClient,
    readiness,
    exit: { code: exit.code, signal: exit.signal, afterMs: exit.at - sigtermAt },
  };
}

describe('SIGTERM under keep-alive load (built API)', () => {
  let database: Client;

  beforeAll(async () => {
    buildIfStale();
    database = new Client({ connectionString: process.env.DATABASE_URL });
    await database.connect();
  }, 180000);
  afterAll(() => database?.end());

  it.each([
    ['1 process', '1', 0],
    ['2 workers', '2', 0],
    ['2 workers, SHUTDOWN_DELAY_MS=300', '2', 300],
  ])(
    'should answer every request it took, close each socket after its answer, exit 0 (%s)',
    async (_label, workers, delayMs) => {
      const api = await startBuiltApi({
        WORKERS: workers,
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        SHUTDOWN_DELAY_MS: String(delayMs),
      });
      const run = await sigtermUnderLoad(api);

      const reset = run.outcomes.filter((o) => o.written && !o.complete);
      // Answered after SIGTERM, whenever sent: a request in flight at SIGTERM counts (on a busy
      // machine every client may have had exactly one in flight, each answered with close).
      const answeredAfter = run.outcomes.filter((o) => o.complete && (o.answeredAt ?? -1) >= 0);
      const lastAnswers = run.byClient.map((outcomes) => outcomes.filter((o) => o.complete).pop());
      const summary = {
        requests: run.outcomes.length,
        answeredAfterSigterm: answeredAfter.length,
        closeAfterSigterm: answeredAfter.filter((o) => o.connection === 'close').length,
        refusedAfterSigterm: run.outcomes.filter((o) => o.error && !o.written).length,
        reset: reset.map((o) => `${o.path} ${o.error} at ${o.sentAt.toFixed(0)} ms`),
        readiness: run.readiness.map((r) => `${r.status} sent at ${r.at.toFixed(0)} ms`),
        exit: run.exit,
      };
      const failures = [
        // No request that got in is reset, and the process ends well inside its limit.
        reset.length > 0 && 'written requests were reset',
        run.exit.code !== 0 && 'exit code is not 0',
        run.exit.afterMs > delayMs + QUIET_SOCKET_MS + 2000 && 'too slow to exit',
        /Still busy|exiting anyway/.test(api.output()) && 'the shutdown timed out',
        // The load reached the drain, and every client's last answer told it to close the socket
        // (an answer that kept it open would have been followed by a reset or a hang).
        answeredAfter.length === 0 && 'nothing was answered after SIGTERM',
        lastAnswers.some((o) => o?.connection !== 'close') && 'a last answer kept its socket',
        // Readiness was 200 before SIGTERM; with a delay, 503 while requests were still served.
        !run.readiness.some((r) => r.at < 0 && r.status === 200) && 'never ready before SIGTERM',
        delayMs > 0 &&
          !run.readiness.some((r) => r.status === 503 && r.at >= 0 && r.at < delayMs) &&
          'readiness did not turn 503 within the delay',
        delayMs > 0 &&
          !answeredAfter.some((o) => o.sentAt >= 0 && o.sentAt < delayMs - 100) &&
          'nothing was served during the delay',
      ].filter(Boolean);
      // On failure, the figures and the API's own log say what happened.
      if (failures.length > 0) {
        throw new Error(
          `${failures.join('; ')}\n${JSON.stringify(summary, null, 1)}\n${api.output()}`,
        );
      }
      // Every create the API acknowledged is in the database.
      const created = run.outcomes.filter((o) => o.status === 201).map((o) => o.createdId);
      const found = await database.query<{ count: string }>(
        'SELECT count(*) FROM task WHERE id = ANY($1::int[])',
        [created],
      );
      expect(Number(found.rows[0].count)).toBe(created.length);
    },
    60000,
  );
});
