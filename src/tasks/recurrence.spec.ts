import { addPeriod, nextOccurrence } from './recurrence';

const utc = (iso: string) => new Date(iso);

describe('addPeriod', () => {
  it.each([
    ['2026-01-31T09:30:00.000Z', 'monthly', '2026-02-28T09:30:00.000Z'],
    ['2028-01-31T09:30:00.000Z', 'monthly', '2028-02-29T09:30:00.000Z'],
    ['2026-03-31T00:00:00.000Z', 'monthly', '2026-04-30T00:00:00.000Z'],
    ['2026-12-15T00:00:00.000Z', 'monthly', '2027-01-15T00:00:00.000Z'],
    ['2028-02-29T12:00:00.000Z', 'yearly', '2029-02-28T12:00:00.000Z'],
    ['2026-06-10T00:00:00.000Z', 'yearly', '2027-06-10T00:00:00.000Z'],
    ['2026-12-31T23:00:00.000Z', 'daily', '2027-01-01T23:00:00.000Z'],
    ['2026-02-26T08:00:00.000Z', 'weekly', '2026-03-05T08:00:00.000Z'],
    ['0099-01-31T00:00:00.000Z', 'monthly', '0099-02-28T00:00:00.000Z'],
  ] as const)('should move %s by one %s period to %s', (from, recurrence, to) => {
    expect(addPeriod(utc(from), recurrence).toISOString()).toBe(to);
  });
});

describe('nextOccurrence', () => {
  const base = {
    dueDate: utc('2026-01-31T10:00:00.000Z'),
    remindAt: utc('2026-01-31T09:00:00.000Z'),
    recurrence: 'monthly' as const,
    recurrenceUntil: null,
  };

  it('should advance due date and reminder together', () => {
    expect(nextOccurrence(base)).toEqual({
      dueDate: utc('2026-02-28T10:00:00.000Z'),
      remindAt: utc('2026-02-28T09:00:00.000Z'),
    });
  });

  it('should still create an occurrence due exactly at recurrence_until', () => {
    const until = utc('2026-02-28T10:00:00.000Z');
    expect(nextOccurrence({ ...base, recurrenceUntil: until })?.dueDate).toEqual(until);
  });

  it('should stop after recurrence_until', () => {
    expect(
      nextOccurrence({ ...base, recurrenceUntil: utc('2026-02-28T09:59:59.999Z') }),
    ).toBeNull();
  });

  it('should keep a missing reminder missing', () => {
    expect(nextOccurrence({ ...base, remindAt: null })?.remindAt).toBeNull();
  });
});
