/** What the process writes to stdout and stderr (the app's log lines) while captured. */
export interface CapturedOutput {
  /** Each write, in order. */
  lines: string[];
  /** Stops capturing: writes reach the terminal again. */
  restore(): void;
}

/** Captures stdout and stderr until `restore()`; nothing reaches the terminal meanwhile. */
export function captureOutput(): CapturedOutput {
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  return {
    lines,
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}

/**
 * Captures the output of each test of the suite (from its `beforeEach` to its `afterEach`):
 * `lines()` is what the running test has written so far.
 */
export function useCapturedOutput(): { lines: () => string[] } {
  let captured: CapturedOutput | undefined;
  beforeEach(() => {
    captured = captureOutput();
  });
  afterEach(() => captured?.restore());
  return { lines: () => captured?.lines ?? [] };
}
