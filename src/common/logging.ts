import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { AppConfig } from '../config/app-config';

const ORDER: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const SUMMARY_MAX = 300;

/** Nest's logger at the configured level: one JSON object per line in production. */
export function createLogger(config: Pick<AppConfig, 'log'>): ConsoleLogger {
  const level: LogLevel = config.log.level === 'info' ? 'log' : config.log.level;
  return new AppLogger({
    json: config.log.json,
    colors: !config.log.json && process.stdout.isTTY,
    logLevels: ORDER.slice(0, ORDER.indexOf(level) + 1),
  });
}

/**
 * Nest's console logger without stack traces. Libraries log errors with their stacks (Nest's own
 * exception handler, TypeORM's connection retries): a log line gets the stack's first line, the
 * error's name and message (capped), as `error`, and never the frames. An `Error` logged as the
 * message is reduced the same way.
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

function withoutFrames(message: unknown): unknown {
  if (message instanceof Error) return firstLine(`${message.name}: ${message.message}`);
  return typeof message === 'string' && /\n\s+at /.test(message) ? firstLine(message) : message;
}

function firstLine(text: unknown): string | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const line = text.split('\n', 1)[0];
  return line.length > SUMMARY_MAX ? `${line.slice(0, SUMMARY_MAX)}…` : line;
}
