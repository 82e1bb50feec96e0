import { Injectable } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, Socket } from 'node:net';

/**
 * How long a socket with no request in progress must stay quiet (no byte read) during a drain
 * before it is closed. Not zero: a keep-alive client may have sent its next request already, and
 * until the event loop reads it the connection looks idle. Closing it then (what Node's
 * `server.close()` does through `closeIdleConnections()`) resets a request that was sent: measured
 * under steady keep-alive load, every client lost one. A second of silence means no request is on
 * its way, unless the event loop stalled for that long.
 */
export const QUIET_SOCKET_MS = 1000;
const SWEEP_MS = 100;

interface SocketState {
  /** The socket's latest response: in flight until it has finished. */
  last?: ServerResponse;
  bytesRead: number;
  quietSince: number;
}

const inFlight = (state: SocketState) => state.last !== undefined && !state.last.writableFinished;

export interface DrainSummary {
  /** Responses that went out with `Connection: close` after the drain began. */
  closedResponses: number;
  /** Sockets closed by the drain because they stayed quiet. */
  quietSocketsClosed: number;
}

/**
 * Graceful stop of the HTTP server under keep-alive load (rolling deploys). `begin()` only turns
 * readiness to 503 (see HealthController), so a balancer stops sending while requests are still
 * served as usual; `close()` then stops accepting, answers every request in flight or still
 * arriving on an open socket with `Connection: close` (Node closes the socket after that answer),
 * closes sockets that stay quiet, and resolves once no socket is left.
 */
@Injectable()
export class HttpDrain {
  private server?: Server;
  private readonly sockets = new Map<Socket, SocketState>();
  private stopping = false;
  private closing = false;
  private allClosed?: Promise<void>;
  private closed?: Promise<DrainSummary>;
  private readonly summary: DrainSummary = { closedResponses: 0, quietSocketsClosed: 0 };

  /** True from `begin()` on: readiness answers 503. */
  get draining(): boolean {
    return this.stopping;
  }

  /** Sockets open now (for the shutdown log). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Tracks `server`'s sockets and requests; call before it listens. */
  attach(server: Server): void {
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, { bytesRead: 0, quietSince: Date.now() });
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Before Express: the header must be set before any handler can write the response.
    // Per request only a property write: a listener and a Set entry per response cost ~55 MB of
    // peak RSS in the HTTP benchmark (bench/run.mjs, mixed, 1 worker: 204 against 149 MB).
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      const state = this.sockets.get(request.socket);
      if (state) state.last = response;
      if (this.closing) this.closeAfter(response);
    });
  }

  /** Readiness turns 503; nothing else changes. */
  begin(): void {
    this.stopping = true;
  }

  /**
   * Closes the listener; open sockets are served as before. In a cluster every worker does this
   * before any of them answers with `Connection: close`: a client sent away by one worker would
   * otherwise reconnect to the primary, which may hand the connection to a worker that is closing
   * its listener, and the request written on it is reset.
   */
  stopAccepting(): void {
    this.begin();
    const server = this.server;
    if (this.allClosed || !server?.listening) return;
    this.allClosed = new Promise<void>((resolve) => {
      // net.Server's close, not http.Server's: the latter first destroys every connection that
      // looks idle, including those whose next request is not read yet (see QUIET_SOCKET_MS).
      // It calls back once the listener is closed and the last connection has ended.
      NetServer.prototype.close.call(server, () => resolve());
    });
  }

  /**
   * Stops accepting (if not done yet), answers every request in flight or still arriving with
   * `Connection: close` and closes quiet sockets; resolves once no socket is left. Idempotent.
   */
  close(): Promise<DrainSummary> {
    this.stopAccepting();
    this.closed ??= (async () => {
      if (!this.allClosed) return this.summary;
      this.closing = true;
      for (const state of this.sockets.values()) {
        if (state.last && inFlight(state)) this.closeAfter(state.last);
      }
      const now = Date.now();
      for (const [socket, state] of this.sockets) {
        state.bytesRead = socket.bytesRead;
        state.quietSince = now;
      }
      const sweep = setInterval(() => this.closeQuietSockets(), SWEEP_MS);
      try {
        await this.allClosed;
      } finally {
        clearInterval(sweep);
      }
      return this.summary;
    })();
    return this.closed;
  }

  private closeAfter(response: ServerResponse): void {
    if (response.headersSent) return; // its socket closes when it goes quiet, or after the next answer
    response.setHeader('Connection', 'close');
    this.summary.closedResponses++;
  }

  private closeQuietSockets(): void {
    const now = Date.now();
    for (const [socket, state] of this.sockets) {
      if (inFlight(state) || socket.bytesRead !== state.bytesRead) {
        state.bytesRead = socket.bytesRead;
        state.quietSince = now;
      } else if (now - state.quietSince >= QUIET_SOCKET_MS) {
        this.summary.quietSocketsClosed++;
        socket.destroy();
      }
    }
  }
}
