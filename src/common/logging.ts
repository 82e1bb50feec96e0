import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { AppConfig } from '../config/app-config';

const ORDER: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Nest's logger at the configured level: one JSON object per line in production. */
export function createLogger(config: Pick<AppConfig, 'log'>): ConsoleLogger {
  const level: LogLevel = config.log.level === 'info' ? 'log' : config.log.level;
  return new ConsoleLogger({
    json: config.log.json,
    colors: !config.log.json && process.stdout.isTTY,
    logLevels: ORDER.slice(0, ORDER.indexOf(level) + 1),
  });
}
