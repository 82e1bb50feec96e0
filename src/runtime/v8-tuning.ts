import { setFlagsFromString } from 'node:v8';
import { enabledTunings } from '../config/framework-tuning';

/** V8's default until applyV8Tuning changes it. */
let pretenuringOff = false;

/**
 * V8 settings for this workload, applied before anything else is loaded (main.ts imports this
 * first; cluster workers run main.ts too).
 *
 * No allocation-site pretenuring. V8 watches where object and array literals are allocated, and
 * once nearly all objects from one site are still alive at a young-generation collection it
 * allocates that site's objects straight in the old generation. A busy server's warm-up fools it:
 * a hundred requests arrive at once, the pool is still connecting, and everything allocated so
 * far is alive. Sites on the request path (`pg`'s row objects among them) are then pretenured for
 * good, their short-lived objects pile up in the old generation until a full collection, and the
 * heap grows. Measured in `docs/benchmarks.md`: ~50 MB less peak RSS per process and less CPU per
 * request. The cost: Node no longer trusts its code cache for built-in modules loaded after a
 * flag changes, ~15 ms more start-up per process. A reliance on V8's flags
 * (common/framework-internals.ts): FRAMEWORK_TUNING_OFF=v8-no-pretenuring keeps V8's default.
 */
applyV8Tuning(enabledTunings(process.env.FRAMEWORK_TUNING_OFF)?.has('v8-no-pretenuring') !== false);

/**
 * Sets the flag as the tuning says. Applied here from the process environment, before anything
 * else loads; bootstrap applies it again once the configuration (`.env` included) is loaded, so a
 * FRAMEWORK_TUNING_OFF that only `.env` sets still takes effect, before the app serves.
 */
export function applyV8Tuning(on: boolean): void {
  // Only a change is applied: each flag change costs Node its code cache for built-ins.
  if (on === pretenuringOff) return;
  pretenuringOff = on;
  setFlagsFromString(on ? '--no-allocation-site-pretenuring' : '--allocation-site-pretenuring');
}
