/**
 * The built API (`node dist/main`) as bench/drill.mjs runs it: its own process group, stdout and
 * stderr (JSON log lines in production) appended to a file, ready when GET /health/ready is 200.
 * Every process group started here is killed when this process exits, whatever the way out.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { httpStatus, ROOT } from './app.mjs';
import { freePort } from './postgres.mjs';

const groups = new Set();

export function killAllApis() {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}
process.on('exit', killAllApis);

/**
 * Starts the API with `env` (PORT is chosen here) and waits until it is ready (60 s at most).
 * Resolves { port, pid, readyMs, exited: Promise<{code, signal, at}>, signal(name), stop() }.
 */
export async function startApi({ env, logFile }) {
  const port = await freePort();
  const fd = openSync(logFile, 'a');
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/main'], {
    cwd: ROOT,
    detached: true, // its own process group: the cluster workers go down with it
    stdio: ['ignore', fd, fd],
    env: { ...env, PORT: String(port) },
  });
  closeSync(fd);
  groups.add(child.pid);
  let exit = null;
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      exit = { code, signal, at: performance.now() };
      resolve(exit);
    }),
  );
  const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
  for (;;) {
    if (exit)
      throw new Error(`the API exited while starting (${JSON.stringify(exit)}):\n${tail()}`);
    if (performance.now() - started > 60_000) {
      throw new Error(`the API is not ready after 60 s:\n${tail()}`);
    }
    if ((await httpStatus(port, '/health/ready')) === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const killGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
    groups.delete(child.pid);
  };
  return {
    port,
    pid: child.pid,
    readyMs: performance.now() - started,
    exited,
    signal: (name) => child.kill(name),
    /**
     * SIGTERM, then SIGKILL to the whole group after `graceMs`: { code, signal, seconds,
     * exitedBefore } (exitedBefore: it had already exited, e.g. crashed, when stop() was called).
     */
    async stop(graceMs = 15_000) {
      const t = performance.now();
      const exitedBefore = exit !== null; // it died by itself, before anyone asked
      if (!exit) child.kill('SIGTERM');
      const result = await Promise.race([
        exited,
        new Promise((resolve) => setTimeout(() => resolve(null), graceMs)),
      ]);
      killGroup();
      const final = result ?? (await exited);
      return {
        code: final.code,
        signal: final.signal,
        seconds: (final.at - t) / 1000,
        exitedBefore,
      };
    },
  };
}
