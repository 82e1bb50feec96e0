import { createLogger, logAsRequest, REQUEST_CONTEXT_EVERYWHERE, withRequestId } from './logging';

const STACK =
  'Error: connect ECONNREFUSED 127.0.0.1:5432\n' +
  '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)\n' +
  '    at /app/node_modules/pg/lib/client.js:132:73';

/** Everything the logger writes to stdout and stderr while `log` runs. */
function written(log: () => void): string {
  const chunks: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    log();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return chunks.join('');
}

describe(createLogger.name, () => {
  describe.each([
    ['JSON', true],
    ['pretty', false],
  ])('%s lines', (_format, json) => {
    const logger = createLogger({ level: 'info', json });

    it("should keep an error's first line and never its stack frames", () => {
      // How TypeORM's module logs a failed connection attempt.
      const output = written(() =>
        logger.error('Unable to connect to the database. Retrying (1)...', STACK, 'TypeOrmModule'),
      );

      expect(output).toContain('Unable to connect to the database. Retrying (1)...');
      expect(output).toContain('TypeOrmModule');
      expect(output).toContain('Error: connect ECONNREFUSED 127.0.0.1:5432');
      expect(output).not.toMatch(/\bat .*:\d+:\d+/);
      expect(output).not.toContain('node_modules');
    });

    it('should reduce an Error logged as the message to its name, code and message', () => {
      const error = Object.assign(new TypeError('bad input'), { code: 'ERR_BAD' });

      const output = written(() => logger.error(error));

      expect(output).toContain('TypeError [ERR_BAD]: bad input');
      expect(output).not.toContain(__filename);
      expect(output).not.toMatch(/\bat .*:\d+:\d+/);
    });

    it('should reduce errors inside a logged object or array', () => {
      const output = written(() => {
        logger.warn({ step: 'connect', err: new Error('refused'), stack: STACK });
        logger.warn([new RangeError('too far')]);
      });

      expect(output).toContain('connect');
      expect(output).toContain('Error: refused');
      expect(output).toContain('RangeError: too far');
      expect(output).not.toMatch(/\bat .*:\d+:\d+/);
    });

    it('should leave ordinary messages alone, multi-line text included', () => {
      const output = written(() => {
        logger.log('Task API listening', 'Bootstrap');
        logger.log('Checks:\n   at least one task');
      });

      expect(output).toContain('Task API listening');
      expect(output).toContain('Bootstrap');
      expect(output).toContain('at least one task');
    });
  });

  it('should put the summary in an `error` field of the JSON line, without a `stack` field', () => {
    const logger = createLogger({ level: 'info', json: true });

    const line = JSON.parse(written(() => logger.error('Failed', STACK, 'Ctx'))) as Record<
      string,
      unknown
    >;

    expect(line).toMatchObject({
      level: 'error',
      message: 'Failed',
      context: 'Ctx',
      error: 'Error: connect ECONNREFUSED 127.0.0.1:5432',
    });
    expect(line).not.toHaveProperty('stack');
  });

  describe('request ids', () => {
    const ID = 'req-7f3a';

    const response = { getHeader: (name: string) => (name === 'X-Request-Id' ? ID : undefined) };

    it('should end every pretty line a request logs itself with its id, stack line too', () => {
      const logger = createLogger({ level: 'info', json: false });

      const output = written(() =>
        logAsRequest(response, () => {
          logger.warn('Database busy during PATCH /api/tasks/:id', 'Exceptions');
          logger.error('Failed', STACK, 'Ctx');
        }),
      );

      const lines = output.trimEnd().split('\n');
      expect(lines).toHaveLength(3);
      for (const line of lines) expect(line).toMatch(new RegExp(`\\[${ID}\\]$`));
    });

    it('should follow the request into its async work from Node 24 only (promise hooks before)', async () => {
      const logger = createLogger({ level: 'info', json: true });

      const later = await new Promise<string>((resolve) =>
        withRequestId(ID, () => {
          // Later, as the pool guard's warning after a query would be.
          setImmediate(() =>
            resolve(written(() => logger.warn('Discarding a connection', 'Pool'))),
          );
        }),
      );

      const line = JSON.parse(later) as { request_id?: string };
      if (REQUEST_CONTEXT_EVERYWHERE) expect(line.request_id).toBe(ID);
      else expect(line).not.toHaveProperty('request_id');
    });

    it('should give every JSON line of a request a top-level request_id, and none outside one', () => {
      const logger = createLogger({ level: 'info', json: true });

      const inside = written(() =>
        logAsRequest(response, () => logger.error('Failed', STACK, 'Ctx')),
      );
      const requestLine = written(() => logger.log({ request_id: 'other', status: 200 }, 'HTTP'));
      const outside = written(() => logger.log('Task API listening', 'Bootstrap'));

      expect(JSON.parse(inside)).toMatchObject({ message: 'Failed', request_id: ID });
      expect(JSON.parse(requestLine)).toMatchObject({ request_id: 'other' });
      expect(JSON.parse(outside)).not.toHaveProperty('request_id');
    });

    it('should not repeat an id a pretty line already names', () => {
      const logger = createLogger({ level: 'info', json: false });

      const output = written(() =>
        logAsRequest(response, () => logger.log(`GET /api/tasks 200 1.5ms [${ID}]`, 'HTTP')),
      );

      expect(output.split(ID)).toHaveLength(2);
    });
  });
});
