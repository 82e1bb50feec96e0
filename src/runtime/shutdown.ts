import { Logger } from '@nestjs/common';
import cluster from 'node:cluster';

/**
 * Runs a stop once (later triggers are ignored) and exits with its code: 0 unless it returns
 * another. Only if it takes longer than `timeoutMs` does the process exit 1 anyway, cutting off
 * whatever is still running (and, in a cluster primary, killing the workers still alive).
 */
export class Shutdown {
  private readonly logger = new Logger('Shutdown');
  private started = false;

  constructor(private readonly timeoutMs: number) {}

  onSignals(signals: NodeJS.Signals[], close: (logger: Logger) => Promise<number | void>): void {
    for (const signal of signals) process.on(signal, () => this.run(`${signal} received`, close));
  }

  run(reason: string, close: (logger: Logger) => Promise<number | void>): void {
    if (this.started) return;
    this.started = true;
    const started = Date.now();
    this.logger.log(`${reason}: stopping (at most ${this.timeoutMs} ms)`);
    setTimeout(() => {
      this.logger.error(`Still busy after ${this.timeoutMs} ms: exiting anyway`);
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, this.timeoutMs).unref();
    close(this.logger).then(
      (code) => {
        const took = Date.now() - started;
        this.logger.log(`Stopped ${code ? 'with errors' : 'cleanly'} in ${took} ms`);
        process.exit(code ?? 0);
      },
      (error: unknown) => {
        const name = error instanceof Error ? error.name : 'unknown error';
        this.logger.error(`Shutdown failed: ${name}`);
        process.exit(1);
      },
    );
  }
}
