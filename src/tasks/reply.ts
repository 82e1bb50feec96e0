import {
  CallHandler,
  ExecutionContext,
  HttpException,
  HttpStatus,
  Injectable,
  NestInterceptor,
} from '@nestjs/common';
import { Request, Response } from 'express';
import { map, Observable } from 'rxjs';
import { etagMatches } from '../common/etag';

/** A service answer plus what travels in headers: the task's ETag, an idempotent replay. */
export interface Reply<T> {
  body: T;
  etag?: string;
  replayed?: boolean;
}

/**
 * Turns a {@link Reply} into the response: sets `ETag` and `Idempotent-Replayed`, and answers a
 * GET whose `If-None-Match` still matches with 304 and no body.
 */
@Injectable()
export class ReplyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler<Reply<unknown>>): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    return next.handle().pipe(
      map((reply) => {
        if (reply.etag) {
          response.setHeader('ETag', reply.etag);
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
      }),
    );
  }
}
