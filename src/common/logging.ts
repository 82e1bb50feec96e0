import { ConsoleLogger, LogLevel } from '@nestjs/common';

const ORDER: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const SUMMARY_MAX = 300;

/** What the logger needs (config/'s `log` namespace has this shape). */
export interface LogSettings {
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'verbose';
  json: boolean;
}

/** Nest's logger at the configured level: one JSON object per line in production. */
export function createLogger(log: LogSettings): ConsoleLogger {
  const level: LogLevel = log.level === 'info' ? 'log' : log.level;
  return new AppLogger({
    json: log.json,
    colors: !log.json && process.stdout.isTTY,
    logLevels: ORDER.slice(0, ORDER.indexOf(level) + 1),
  });
}

/**
 * Nest's console logger without stack traces. Libraries log errors with their stacks (Nest's own
 * exception handler, TypeORM's connection retries): a log line gets the stack's first line, the
 * error's name and message (capped), as `error`, and never the frames. An `Error` logged as the
 * message, or as a value of a logged object or array, is reduced to its name, code and message.
 */
export class AppLogger extends ConsoleLogger {
  protected override getJsonLogObject(
    message: unknown,
    options: Parameters<ConsoleLogger['getJsonLogObject']>[1],
  ): ReturnType<ConsoleLogger['getJsonLogObject']> & { error?: string } {
    const object = super.getJsonLogObject(withoutFrames(message), {
      ...options,
      errorStack: undefined,
    });
    const error = firstLine(options.errorStack);
    return error ? { ...object, error } : object;
  }

  protected override stringifyMessage(message: unknown, logLevel: LogLevel): unknown {
    return super.stringifyMessage(withoutFrames(message), logLevel);
  }

  protected override printStackTrace(stack: string): void {
    const error = firstLine(stack);
    if (error) super.printStackTrace(error);
  }
}

const FRAME = /\n\s+at .+:\d+:\d+/;

/** The message with errors reduced to one line: itself, or its values one level down. */
function withoutFrames(message: unknown): unknown {
  if (Array.isArray(message)) return message.map(reduced);
  if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
    return Object.fromEntries(
      Object.entries(message)
        .filter(([key]) => key !== 'stack')
        .map(([key, value]) => [key, reduced(value)]),
    );
  }
  return reduced(message);
}

function reduced(value: unknown): unknown {
  if (value instanceof Error) return summary(value);
  return typeof value === 'string' && FRAME.test(value) ? firstLine(value) : value;
}

/** `TypeError [ERR_X]: message`, with the first inner error of an AggregateError. */
function summary(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  const inner = error instanceof AggregateError ? (error.errors as unknown[])[0] : undefined;
  const detail = error.message || (inner instanceof Error ? `${inner.name}: ${inner.message}` : '');
  return firstLine(`${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${detail}`);
}

function firstLine(text: unknown): string | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const line = text.split('\n', 1)[0];
  return line.length > SUMMARY_MAX ? `${line.slice(0, SUMMARY_MAX)}…` : line;
}
