/**
 * What the bench scripts (run.mjs, drill.mjs, large-table.mjs) share: reading their settings,
 * building dist/ when it is stale, minting the HS256 tokens a shared-secret frontend would, and asking a
 * server for one status code.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** A positive number from the environment, or `fallback`. */
export function numberEnv(name, fallback) {
  const value = Number(process.env[name]);
  return process.env[name] && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** A comma-separated list from the environment, or `fallback`. */
export function listEnv(name, fallback) {
  const value = process.env[name]?.split(',').map((s) => s.trim());
  return value?.length && value.every(Boolean) ? value : fallback;
}

/**
 * Builds when dist/ is missing or older than a source file; with `noBuild` it only says so
 * (e.g. while src/ does not compile) and uses dist/ as it is.
 */
export function ensureBuilt({ noBuild = false, log = console.log } = {}) {
  const sources = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) sources.push(path);
    }
  };
  walk(join(ROOT, 'src'));
  const compiled = (source) =>
    join(ROOT, 'dist', relative(join(ROOT, 'src'), source).replace(/\.ts$/, '.js'));
  const stale = sources.filter(
    (source) =>
      !existsSync(compiled(source)) ||
      statSync(compiled(source)).mtimeMs < statSync(source).mtimeMs,
  );
  if (stale.length && noBuild) {
    log(`no build asked for: using dist/ although ${stale.length} source file(s) are newer`);
  } else if (stale.length) {
    log(`dist/ is missing or older than ${stale.length} source file(s): npm run build`);
    const t = performance.now();
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    log(`build: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  if (!existsSync(join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing');
}

/** HS256, like a Better Auth shared-secret frontend mints them: sub, iat, exp (1 h). */
export function mintToken(secret, sub) {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, iat: now, exp: now + 3600 })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** The status of one GET on 127.0.0.1 (0 when there is no answer in time). */
export function httpStatus(port, path, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = httpGet(
      { host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** A plain-text table: the first `alignLeft` columns left-aligned, the rest right-aligned. */
export function table(headers, rows, alignLeft = 1) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i < alignLeft ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
      .join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
