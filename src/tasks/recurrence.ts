import { daysInMonth, utcTime } from '../common/iso-timestamp';

export const RECURRENCES = ['daily', 'weekly', 'monthly', 'yearly'] as const;
export type Recurrence = (typeof RECURRENCES)[number];

/** Adds whole months in UTC, clamping the day: Jan 31 + 1 month = Feb 28/29. */
function addMonths(date: Date, months: number): Date {
  const total = date.getUTCFullYear() * 12 + date.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const day = Math.min(date.getUTCDate(), daysInMonth(year, month));
  return new Date(
    utcTime(
      year,
      month,
      day,
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds(),
      date.getUTCMilliseconds(),
    ),
  );
}

/** One period later, calendar-aware in UTC (Feb 29 + 1 year = Feb 28). */
export function addPeriod(date: Date, recurrence: Recurrence): Date {
  switch (recurrence) {
    case 'daily':
      return new Date(date.getTime() + 86_400_000);
    case 'weekly':
      return new Date(date.getTime() + 7 * 86_400_000);
    case 'monthly':
      return addMonths(date, 1);
    case 'yearly':
      return addMonths(date, 12);
  }
}

export interface RecurringSchedule {
  dueDate: Date;
  remindAt: Date | null;
  recurrence: Recurrence;
  recurrenceUntil: Date | null;
}

/**
 * The schedule of the occurrence after this one, or null when `recurrence_until` has passed.
 * An occurrence due exactly at `recurrence_until` is still created.
 */
export function nextOccurrence(
  task: RecurringSchedule,
): { dueDate: Date; remindAt: Date | null } | null {
  const dueDate = addPeriod(task.dueDate, task.recurrence);
  if (task.recurrenceUntil && dueDate.getTime() > task.recurrenceUntil.getTime()) return null;
  return { dueDate, remindAt: task.remindAt && addPeriod(task.remindAt, task.recurrence) };
}
