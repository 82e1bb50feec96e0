import { QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { isDatabaseUnavailable } from './all-exceptions.filter';

describe(isDatabaseUnavailable.name, () => {
  it('should read a transaction whose connection the pool already dropped as unavailable', () => {
    // What a write in flight gets when PostgreSQL stops under it (seen in the fault drill).
    expect(isDatabaseUnavailable(new QueryRunnerProviderAlreadyReleasedError())).toBe(true);
  });

  it('should not read a programming error as unavailable', () => {
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
  });
});
