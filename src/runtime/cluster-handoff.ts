/**
 * How a cluster primary hands its settled environment to workers forked before it was ready
 * (see main.ts). Node built-ins only: main.ts loads this before anything else.
 */

/** Set in the environment of workers that must wait for the primary's go-ahead. */
export const AWAIT_PRIMARY = 'TASK_API_AWAIT_PRIMARY';

export interface GoAhead {
  type: 'go';
  env: Record<string, string>;
}

/** In a worker: the environment the primary settled (database URL, secret), once it is ready. */
export function goAhead(): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    // A primary that gave up (bad configuration) disconnects: nothing to serve.
    const gaveUp = () => process.exit(1);
    const onMessage = (message: GoAhead | undefined) => {
      if (message?.type !== 'go') return;
      process.off('disconnect', gaveUp);
      process.off('message', onMessage);
      resolve(message.env);
    };
    process.once('disconnect', gaveUp);
    process.on('message', onMessage);
  });
}

/**
 * A coordinated stop (see cluster-primary.ts): the primary asks every worker to stop accepting, waits
 * until all have, then lets them close their sockets.
 */
export interface ShutdownStep {
  type: 'shutdown';
  step: 'stop-accepting' | 'stopped-accepting' | 'close';
}

export function isShutdownStep(message: unknown, step: ShutdownStep['step']): boolean {
  const candidate = message as Partial<ShutdownStep> | undefined;
  return candidate?.type === 'shutdown' && candidate.step === step;
}
