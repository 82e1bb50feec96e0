/**
 * The switchable reliances on framework internals (each described, with its test, in
 * common/framework-internals.ts). Imports nothing: runtime/v8-tuning.ts reads it before anything
 * else is loaded.
 */
export const FRAMEWORK_TUNINGS = [
  'express-prototypes',
  'express-reply',
  'v8-no-pretenuring',
] as const;

export type FrameworkTuning = (typeof FRAMEWORK_TUNINGS)[number];

/**
 * FRAMEWORK_TUNING_OFF: unset or empty turns nothing off; `all` turns every tuning off; otherwise
 * the comma-separated names to turn off. `undefined` for anything else (an unknown name).
 */
export function enabledTunings(off: string | undefined): ReadonlySet<FrameworkTuning> | undefined {
  const names = (off ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'all') return new Set();
  if (names.some((name) => !(FRAMEWORK_TUNINGS as readonly string[]).includes(name))) {
    return undefined;
  }
  return new Set(FRAMEWORK_TUNINGS.filter((name) => !names.includes(name)));
}
