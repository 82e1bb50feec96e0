import { NestApplicationOptions } from '@nestjs/common';
import type { Express, Request, Response } from 'express';
import { IncomingMessage, Server, ServerResponse } from 'node:http';
import request from 'supertest';
import { AppExpressAdapter } from './app-express.adapter';

/** The adapter's server, with one Express route; `seen` records what arrived from Node. */
function serverWith(options: NestApplicationOptions = {}) {
  const adapter = new AppExpressAdapter();
  const app = adapter.getInstance<Express>();
  const seen: { request?: object; response?: object } = {};
  app.get('/echo', (req: Request, res: Response) => {
    res.json({ host: req.get('host'), isRequest: req instanceof IncomingMessage });
  });
  adapter.initHttpServer(options);
  const server = adapter.getHttpServer() as Server;
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    seen.request = Object.getPrototypeOf(req) as object;
    seen.response = Object.getPrototypeOf(res) as object;
  });
  return { app, server, seen };
}

describe(AppExpressAdapter.name, () => {
  it("should build requests and responses with Express's prototypes, so Express need not change them", async () => {
    const { app, server, seen } = serverWith();

    const reply = await request(server).get('/echo').set('Host', 'tasks.test').expect(200);

    expect(reply.body).toEqual({ host: 'tasks.test', isRequest: true });
    // Before Express ran: its own setPrototypeOf(req, app.request) is then a no-op.
    expect(seen.request).toBe(app.request);
    expect(seen.response).toBe(app.response);
  });

  it("should keep Nest's own server when connection tracking is asked for", async () => {
    const { app, server, seen } = serverWith({ forceCloseConnections: true });

    await request(server).get('/echo').expect(200);

    expect(seen.request).toBe(IncomingMessage.prototype);
    expect(seen.request).not.toBe(app.request);
  });
});
