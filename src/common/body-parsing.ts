import {
  CanActivate,
  ExecutionContext,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { json } from 'body-parser';
import { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestValidationException } from './validation-error';

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const UTF8 = /^utf-8$/i;

/** Deeper JSON than this is refused before anything (the parser, the validators) recurses into it. */
export const MAX_JSON_DEPTH = 32;

function hasBody(request: Request): boolean {
  return (
    request.headers['transfer-encoding'] !== undefined ||
    Number(request.headers['content-length'] ?? 0) > 0
  );
}

/**
 * What can be refused from the headers alone, before anything reads a byte of the body (the
 * exception filter closes the connection when a body is left unread):
 * - a `Content-Length` over the limit: 413;
 * - a declared type other than JSON: 415. Like FastAPI, a body without a `Content-Type` is read as
 *   JSON (fetch() calls that forgot the header keep working);
 * - a charset other than UTF-8 (RFC 8259 §8.1): 415. UTF-16 and UTF-7 bodies are not decoded.
 */
export function refuseBodyEarly(limitBytes: number): RequestHandler {
  return function refuseBodyEarly(request: Request, _response: Response, next: NextFunction) {
    if (!hasBody(request)) return next();
    if (Number(request.headers['content-length']) > limitBytes) {
      return next(new PayloadTooLargeException(`Request body is larger than ${limitBytes} bytes`));
    }
    const type = request.headers['content-type'];
    if (type === undefined) return next();
    if (!JSON_TYPE.test(type)) {
      return next(new UnsupportedMediaTypeException('Content-Type must be application/json'));
    }
    const charset = CHARSET.exec(type)?.[1];
    if (charset !== undefined && !UTF8.test(charset)) {
      return next(new UnsupportedMediaTypeException('JSON must be UTF-8 (charset=utf-8)'));
    }
    next();
  };
}

/**
 * True when `body` nests arrays/objects deeper than `maxDepth`: one pass over the raw bytes,
 * counting brackets outside strings. UTF-8 only (multi-byte sequences never hold ASCII bytes).
 * Unbalanced input is left to the JSON parser to refuse.
 */
export function nestsDeeperThan(body: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === 0x5c)
        i++; // backslash: the next byte is escaped, even a quote
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
  return false;
}

class TooDeepError extends Error {
  readonly type = 'entity.too.deep';
}

function checkDepth(_request: unknown, _response: unknown, body: Buffer): void {
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) throw new TooDeepError('JSON nested too deeply');
}

/**
 * Reads the JSON body once the guards before it have passed: a request without a valid token, or
 * over its rate limit, is refused before its body is read. Registered after the auth and rate
 * limit guards (app.module.ts); the app must be created with `bodyParser: false`, and
 * `refuseBodyEarly` has already checked the headers. Parser failures become the contract's
 * errors: malformed or too deeply nested JSON is 422, an oversized body 413.
 */
export class JsonBodyGuard implements CanActivate {
  private readonly parseJson: RequestHandler;
  private readonly limit: string;

  /** `limit`: BODY_LIMIT, as body-parser reads it (`1mb`). */
  constructor(limit: string) {
    this.limit = limit;
    this.parseJson = json({ limit: this.limit, type: () => true, verify: checkDepth });
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    if (!hasBody(request) || request.body !== undefined) return true;
    return new Promise((resolve, reject) => {
      void this.parseJson(request, http.getResponse<Response>(), (error?: unknown) =>
        error ? reject(translateParserError(error, this.limit)) : resolve(true),
      );
    });
  }
}

function translateParserError(error: unknown, limit: string): Error {
  switch ((error as { type?: unknown } | null)?.type) {
    case 'entity.parse.failed':
      return RequestValidationException.single(['body'], 'JSON decode error', 'json_invalid');
    case 'entity.too.deep':
      return RequestValidationException.single(
        ['body'],
        `JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
        'json_too_deep',
      );
    case 'entity.too.large':
      return new PayloadTooLargeException(`Request body is larger than ${limit}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeException('Unsupported body encoding or charset');
    default:
      return error as Error; // from the stream: Express's error handling takes it as it is
  }
}
