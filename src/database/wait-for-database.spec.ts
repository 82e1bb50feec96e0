import { isTransientConnectError, withDatabaseRetry } from './wait-for-database';

const failure = (code?: string, message = 'failed') => Object.assign(new Error(message), { code });

describe(withDatabaseRetry.name, () => {
  let sleeps: number[];
  let lines: string[];
  const options = () => ({
    sleep: (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    log: (line: string) => lines.push(line),
  });

  beforeEach(() => {
    sleeps = [];
    lines = [];
  });

  it('should retry a database that is not up yet, with a doubling wait, then succeed', async () => {
    const connect = jest
      .fn<Promise<string>, []>()
      .mockRejectedValueOnce(failure('ECONNREFUSED'))
      .mockRejectedValueOnce(failure('57P03', 'the database system is starting up'))
      .mockRejectedValueOnce(failure(undefined, 'Connection terminated due to connection timeout'))
      .mockResolvedValue('connected');

    await expect(withDatabaseRetry(connect, options())).resolves.toBe('connected');

    expect(connect).toHaveBeenCalledTimes(4);
    expect(sleeps).toEqual([250, 500, 1000]);
    expect(lines).toEqual([
      'Database not reachable (ECONNREFUSED): attempt 1/30 failed, retrying in 250 ms',
      'Database not reachable (57P03): attempt 2/30 failed, retrying in 500 ms',
      'Database not reachable (timeout): attempt 3/30 failed, retrying in 1000 ms',
    ]);
  });

  it('should cap the wait and give up after the last attempt with its error', async () => {
    const error = failure('ECONNREFUSED');
    const connect = jest.fn<Promise<void>, []>().mockRejectedValue(error);

    await expect(withDatabaseRetry(connect, { ...options(), attempts: 8 })).rejects.toBe(error);

    expect(connect).toHaveBeenCalledTimes(8);
    expect(sleeps).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(lines).toHaveLength(7);
  });

  it.each([
    ['a wrong password', '28P01'],
    ['a missing database', '3D000'],
    ['a refused role', '28000'],
  ])('should fail at once on %s', async (_case, code) => {
    const error = failure(code);
    const connect = jest.fn<Promise<void>, []>().mockRejectedValue(error);

    await expect(withDatabaseRetry(connect, options())).rejects.toBe(error);

    expect(connect).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([]);
  });
});

describe(isTransientConnectError.name, () => {
  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', '57P01', '08006', '53300'])(
    'should retry %s',
    (code) => expect(isTransientConnectError(failure(code))).toBe(true),
  );

  it.each([undefined, null, 'ECONNREFUSED', 42])('should not retry a thrown %p', (value) =>
    expect(isTransientConnectError(value)).toBe(false),
  );
});
