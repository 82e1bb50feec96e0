import { StreamableFile } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Response } from 'express';

/**
 * Nest's Express adapter with a shorter path for the common reply, a JSON object: serialise once,
 * set `Content-Type` and `Content-Length`, `end`. Express's `res.json` → `res.send` would parse
 * the `Content-Type` back to add a charset, copy bodies over 1 KB into a Buffer, and compare
 * freshness against an ETag that it does not generate here (`etag` is off; task ETags and their
 * 304s are ours, see `respond()`). The wire is the same. Every other reply (no body, strings,
 * buffers, streams, 1xx/204/304, a `Content-Type` the handler chose) goes through Express.
 */
export class AppExpressAdapter extends ExpressAdapter {
  override reply(response: Response, body: unknown, statusCode?: number): unknown {
    if (
      body === null ||
      typeof body !== 'object' ||
      body instanceof StreamableFile ||
      ArrayBuffer.isView(body) ||
      response.hasHeader('Content-Type')
    ) {
      return super.reply(response, body, statusCode);
    }
    const status = statusCode ?? response.statusCode;
    if (status < 200 || status === 204 || status === 304) {
      return super.reply(response, body, statusCode);
    }
    const json = JSON.stringify(body);
    response.statusCode = status;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.setHeader('Content-Length', Buffer.byteLength(json));
    response.end(json);
    return response;
  }
}
