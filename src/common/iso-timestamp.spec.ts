import { parseIsoTimestamp } from './iso-timestamp';

describe(parseIsoTimestamp.name, () => {
  it.each([
    ['2026-12-01', '2026-12-01T00:00:00.000Z'],
    ['2026-12-01T10:20', '2026-12-01T10:20:00.000Z'],
    ['2026-12-01T10:20:30Z', '2026-12-01T10:20:30.000Z'],
    ['2026-12-01T10:20:30.123456Z', '2026-12-01T10:20:30.123Z'],
    ['2026-12-01T10:20:30+02:00', '2026-12-01T08:20:30.000Z'],
    ['2026-12-01T00:30:00-0130', '2026-12-01T02:00:00.000Z'],
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
    ['0099-12-31T23:59:59.999Z', '0099-12-31T23:59:59.999Z'],
    ['0004-02-29', '0004-02-29T00:00:00.000Z'],
  ])('should read %s as %s', (input, expected) => {
    expect(parseIsoTimestamp(input)?.toISOString()).toBe(expected);
  });

  it.each([
    '2027-02-30',
    '2027-02-29',
    '2026-13-01',
    '2026-00-10',
    '2026-12-01T24:00',
    '2026-12-01T10:61',
    '2026-12-01T10:00:00+25:00',
    'tomorrow',
    '12/01/2026',
    '',
    '2026-12-01T10:00:00ZZ',
  ])('should refuse %s', (input) => {
    expect(parseIsoTimestamp(input)).toBeUndefined();
  });

  it('should refuse non-strings', () => {
    expect(parseIsoTimestamp(20261201)).toBeUndefined();
    expect(parseIsoTimestamp(null)).toBeUndefined();
  });
});
