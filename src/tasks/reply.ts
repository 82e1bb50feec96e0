import { HttpException, HttpStatus } from '@nestjs/common';
import { Response } from 'express';
import { etagMatches } from '../common/etag';
import { DeletedTaskResponse } from './dto/task.response';

/** A service answer plus what travels in headers: the task's ETag, an idempotent replay. */
export interface Reply<T> {
  body: T;
  etag?: string;
  replayed?: boolean;
}

/**
 * Writes a {@link Reply}'s headers (`ETag`, `Idempotent-Replayed`) and returns its body; a GET
 * whose `If-None-Match` still matches is answered 304 with no body. A plain function rather
 * than an interceptor: no observable and no async-context binding on every request.
 */
export function respond<T>(response: Response, reply: Reply<T>): T {
  if (reply.etag) {
    response.setHeader('ETag', reply.etag);
    const request = response.req;
    const ifNoneMatch = request.headers['if-none-match'];
    if (
      (request.method === 'GET' || request.method === 'HEAD') &&
      ifNoneMatch &&
      etagMatches(ifNoneMatch, reply.etag, 'weak')
    ) {
      throw new HttpException('Not Modified', HttpStatus.NOT_MODIFIED);
    }
  }
  if (reply.replayed) response.setHeader('Idempotent-Replayed', 'true');
  return reply.body;
}

/**
 * Ends a DELETE's answer: 204 with no body, or 200 with `body` (DELETE_RESPONSE=json, for clients
 * that call `res.json()` on every answer). Written here rather than by Nest, whose status for a
 * route is fixed when the app starts.
 */
export function sendDeleted(response: Response, body: DeletedTaskResponse | undefined): void {
  if (body === undefined) response.status(HttpStatus.NO_CONTENT).send();
  else response.status(HttpStatus.OK).json(body);
}
