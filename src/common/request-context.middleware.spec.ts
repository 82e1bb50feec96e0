import { Logger } from '@nestjs/common';
import { Request, Response } from 'express';
import { EventEmitter } from 'node:events';
import { setRefusalReason } from './logging';
import { requestContext } from './request-context.middleware';

/** A response as the middleware sees it: headers, a status, and its `finish`. */
class FakeResponse extends EventEmitter {
  statusCode = 200;
  private readonly headers = new Map<string, unknown>();
  setHeader(name: string, value: unknown): void {
    this.headers.set(name.toLowerCase(), value);
  }
  getHeader(name: string): unknown {
    return this.headers.get(name.toLowerCase());
  }
}

describe(requestContext.name, () => {
  const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn() };

  function serve(json: boolean, status: number, reason?: string): unknown {
    jest.clearAllMocks();
    const request = {
      headers: { 'x-request-id': 'req-1' },
      method: 'GET',
      baseUrl: '',
      route: { path: '/api/tasks' },
    } as unknown as Request;
    const response = new FakeResponse();
    requestContext({ json, level: 'info' }, logger as unknown as Logger)(
      request,
      response as unknown as Response,
      () => undefined,
    );
    response.statusCode = status;
    if (reason !== undefined) setRefusalReason(response, reason);
    response.emit('finish');
    return [...logger.log.mock.calls, ...logger.warn.mock.calls][0]?.[0];
  }

  it("should name a refusal's reason on its request line, JSON and pretty", () => {
    expect(serve(true, 401, 'wrong_audience')).toEqual(
      expect.objectContaining({ status: 401, reason: 'wrong_audience', request_id: 'req-1' }),
    );
    expect(serve(false, 401, 'expired')).toMatch(
      /^GET \/api\/tasks 401 [\d.]+ms reason=expired \[req-1\]$/,
    );
    expect(serve(false, 503, 'session_check_unavailable')).toMatch(
      / 503 [\d.]+ms reason=session_check_unavailable \[req-1\]$/,
    );
  });

  it('should write no reason when none was named, nor on a served request', () => {
    expect(serve(true, 401)).not.toHaveProperty('reason');
    expect(serve(false, 200)).toMatch(/^GET \/api\/tasks 200 [\d.]+ms \[req-1\]$/);
  });
});
