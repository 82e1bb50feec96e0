import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { Request, Response } from 'express';
import { logAsRequest } from './logging';
import { sqlState } from './sql-state';

const DATABASE_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/**
 * The database ended the work to protect itself or others: a limit it enforces (statement,
 * lock wait, idle transaction) or a conflict that outlasted the retries. The request changed
 * nothing and may be sent again.
 */
const DATABASE_BUSY_CODES = new Set([
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '25P03', // idle_in_transaction_session_timeout
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

const RELEASED_CONNECTION_ERRORS = new Set([
  'QueryRunnerProviderAlreadyReleasedError',
  'QueryRunnerAlreadyReleasedError',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  status?: unknown;
  expose?: unknown;
  driverError?: { code?: unknown };
}

/**
 * Duck-typed on purpose: errors raised by Node's own sockets come from another realm under some
 * runners (jest's VM), where `instanceof Error` is false.
 */
function asErrorLike(error: unknown): ErrorLike | undefined {
  return typeof error === 'object' && error !== null ? error : undefined;
}

/** PostgreSQL's data exceptions (SQLSTATE class 22): invalid text encoding, out-of-range values. */
function isRejectedData(exception: unknown): boolean {
  return sqlState(exception)?.startsWith('22') ?? false;
}

/** True for errors that mean "the database is not there right now", not "the query is wrong". */
export function isDatabaseUnavailable(exception: unknown): boolean {
  const error = asErrorLike(exception);
  if (!error) return false;
  const code = error.code;
  const driverCode = error.driverError?.code;
  for (const c of [code, driverCode]) {
    if (typeof c === 'string' && (DATABASE_UNAVAILABLE_CODES.has(c) || c.startsWith('08'))) {
      return true;
    }
  }
  // TypeORM's words for a transaction whose connection died under it (the pool dropped it).
  if (typeof error.name === 'string' && RELEASED_CONNECTION_ERRORS.has(error.name)) return true;
  return (
    typeof error.message === 'string' &&
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection is not established/i.test(
      error.message,
    )
  );
}

/**
 * Every error leaves in FastAPI's shape: `{"detail": ...}`. Client errors keep their message;
 * anything unexpected becomes a bare 500 (or 503 when the database is away) and is logged by
 * name and code only, so no stack, SQL text or secret reaches a client or a log line.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    // What it logs belongs to this request, on any Node (see logAsRequest).
    const { status, body } = logAsRequest(response, () => this.toResponse(exception, request));

    if (status === HttpStatus.UNAUTHORIZED) response.setHeader('WWW-Authenticate', 'Bearer');
    if (status === HttpStatus.SERVICE_UNAVAILABLE) response.setHeader('Retry-After', '5');
    if (response.headersSent) return;
    // Refused before its body was read (401, 413, 415, 429, …): close rather than read it all.
    if (!request.complete) response.setHeader('Connection', 'close');
    response.status(status).json(body);
  }

  private toResponse(exception: unknown, request: Request): { status: HttpStatus; body: object } {
    if (exception instanceof NotFoundException && request.route === undefined) {
      // No route matched: FastAPI's answer, without echoing the path back.
      return { status: HttpStatus.NOT_FOUND, body: { detail: 'Not Found' } };
    }
    if (exception instanceof HttpException) {
      return { status: exception.getStatus(), body: { detail: detailOf(exception) } };
    }
    const httpError = asHttpError(exception);
    if (httpError) return httpError;

    if (isRejectedData(exception)) {
      // A value the database cannot store (class 22, data exception) that validation let through:
      // still the client's input, so 422, and never the database's own words.
      this.logger.warn(
        `Database refused a value during ${request.method} ${routeOf(request)}: ${describe(exception)}`,
      );
      return {
        status: HttpStatus.UNPROCESSABLE_ENTITY,
        body: { detail: [{ loc: ['body'], msg: 'A value cannot be stored', type: 'value_error' }] },
      };
    }
    if (DATABASE_BUSY_CODES.has(sqlState(exception) ?? '')) {
      this.logger.warn(
        `Database busy during ${request.method} ${routeOf(request)}: ${describe(exception)}`,
      );
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        body: { detail: 'Service temporarily unavailable: the database is busy, try again' },
      };
    }
    if (isDatabaseUnavailable(exception)) {
      this.logger.warn(
        `Database unavailable during ${request.method} ${routeOf(request)}: ${describe(exception)}`,
      );
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        body: { detail: 'Service temporarily unavailable: the database cannot be reached' },
      };
    }
    this.logger.error(
      `Unhandled error during ${request.method} ${routeOf(request)}: ${describe(exception)}`,
    );
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, body: { detail: 'Internal Server Error' } };
  }
}

function detailOf(exception: HttpException): unknown {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  if (response && typeof response === 'object') {
    const { detail, message } = response as { detail?: unknown; message?: unknown };
    if (detail !== undefined) return detail;
    if (typeof message === 'string') return message;
    if (Array.isArray(message)) return message.join('; ');
  }
  return exception.message;
}

/** Errors from Express and body-parser carry an HTTP status of their own (4xx): keep it. */
function asHttpError(exception: unknown): { status: HttpStatus; body: object } | undefined {
  const error = asErrorLike(exception);
  const { status, expose, message } = error ?? {};
  if (typeof status !== 'number' || status < 400 || status >= 500 || expose !== true) {
    return undefined;
  }
  return {
    status: status as HttpStatus,
    body: { detail: typeof message === 'string' ? message : 'Bad Request' },
  };
}

function routeOf(request: Request): string {
  return (request.route as { path?: string } | undefined)?.path ?? 'unmatched route';
}

/**
 * Name, code and, for programming errors, the message (first line, capped). Never the stack,
 * and never a database error's message or query, which can carry SQL and values.
 */
function describe(exception: unknown): string {
  const error = asErrorLike(exception);
  if (!error) return typeof exception;
  const name = typeof error.name === 'string' ? error.name : 'Error';
  const code = error.code ?? error.driverError?.code;
  const fromDatabase = code !== undefined || error.driverError !== undefined;
  const message =
    !fromDatabase && typeof error.message === 'string'
      ? `: ${error.message.split('\n')[0].slice(0, 200)}`
      : '';
  return `${name}${typeof code === 'string' ? ` (${code})` : ''}${message}`;
}
