/** Date.UTC without its quirk of reading years 0–99 as 1900–1999. */
export function utcTime(
  year: number,
  month: number,
  day = 1,
  hours = 0,
  minutes = 0,
  seconds = 0,
  ms = 0,
): number {
  const date = new Date(Date.UTC(2000, 0, 1, hours, minutes, seconds, ms));
  date.setUTCFullYear(year, month, day);
  return date.getTime();
}

export function daysInMonth(year: number, monthIndex: number): number {
  return new Date(utcTime(year, monthIndex + 1, 0)).getUTCDate();
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Strict ISO 8601: `2026-12-01` (that day, 00:00 UTC) or a date-time with optional seconds,
 * fraction and offset (none means UTC). Impossible dates such as `2027-02-30` or `24:61` are
 * refused rather than rolled over, unlike `new Date()`.
 */
export function parseIsoTimestamp(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const match = ISO.exec(value.trim());
  if (!match) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '0', offset] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (day < 1 || day > daysInMonth(year, month - 1)) return undefined;

  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  let time = utcTime(year, month - 1, day, hour, minute, second, ms);
  if (offset && offset.toUpperCase() !== 'Z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = Number(digits.slice(2));
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    time -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  const date = new Date(time);
  // PostgreSQL's timestamptz range is wide, JSON clients' is not: keep to years 1..9999.
  return date.getUTCFullYear() >= 1 && date.getUTCFullYear() <= 9999 ? date : undefined;
}
