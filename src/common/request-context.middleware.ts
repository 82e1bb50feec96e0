import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { NextFunction, Request, Response } from 'express';
import { refusalReasonOf, withRequestId } from './logging';

const REQUEST_ID = /^[\w\-.:]{1,128}$/;

interface RequestLine {
  request_id: string;
  method: string;
  route: string;
  status: number;
  duration_ms: number;
  reason?: string;
}

/**
 * Gives each request an id (the caller's `X-Request-Id` when it is sane, else a new UUID), returns
 * it, serves the request with that id on every log line (see AppLogger), and logs one line when
 * the response is done: method, route pattern, status, duration, id, and for a refused request
 * the reason its refuser named (setRefusalReason).
 * The route pattern, not the URL, so ids and query strings stay out; headers are never logged.
 */
export function requestContext(
  { json, level }: { json: boolean; level: string },
  logger = new Logger('HTTP'),
) {
  // Request lines are info-level: below that (warn, error) only the id is handled, and 5xx are
  // still logged by the exception filter.
  const logLines = !['warn', 'error', 'fatal'].includes(level);
  return (request: Request, response: Response, next: NextFunction): void => {
    const incoming = request.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    response.setHeader('X-Request-Id', id);
    if (!logLines) return withRequestId(id, next);
    const started = process.hrtime.bigint();

    response.once('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const route = (request.route as { path?: string } | undefined)?.path;
      const line: RequestLine = {
        request_id: id,
        method: request.method,
        route: route ? `${request.baseUrl}${route}` : 'unmatched',
        status: response.statusCode,
        duration_ms: Math.round(durationMs * 100) / 100,
      };
      // A refusal names its reason (why a 401, say), never the credential.
      const reason = line.status >= 400 ? refusalReasonOf(response) : undefined;
      if (reason !== undefined) line.reason = reason;
      const message = json
        ? line
        : `${line.method} ${line.route} ${line.status} ${line.duration_ms}ms` +
          `${reason === undefined ? '' : ` reason=${reason}`} [${id}]`;
      if (response.statusCode === 503) logger.warn(message);
      else if (response.statusCode >= 500) logger.error(message);
      else logger.log(message);
    });
    withRequestId(id, next);
  };
}
