import { PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { json } from 'body-parser';
import { NextFunction, Request, Response } from 'express';
import { RequestValidationException } from './validation-error';

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

function hasBody(request: Request): boolean {
  return (
    request.headers['transfer-encoding'] !== undefined ||
    Number(request.headers['content-length'] ?? 0) > 0
  );
}

/**
 * JSON bodies only. Like FastAPI, a body without a Content-Type is read as JSON (fetch() calls
 * that forgot the header keep working); any other declared type is 415. Parser failures become
 * the contract's errors: malformed JSON is 422, an oversized body 413. Requests without a body
 * (most GETs) skip all of it. The app must be created with `bodyParser: false`.
 */
export function configureBodyParsing(app: NestExpressApplication, limit: string): void {
  const parseJson = json({ limit, type: () => true });
  app.use(function jsonBody(request: Request, response: Response, next: NextFunction) {
    if (!hasBody(request)) return next();
    const type = request.headers['content-type'];
    if (type !== undefined && !JSON_TYPE.test(type)) {
      return next(new UnsupportedMediaTypeException('Content-Type must be application/json'));
    }
    parseJson(request, response, (error?: unknown) =>
      next(error ? translateParserError(error, limit) : undefined),
    );
  });
}

function translateParserError(error: unknown, limit: string): unknown {
  switch ((error as { type?: unknown } | null)?.type) {
    case 'entity.parse.failed':
      return RequestValidationException.single(['body'], 'JSON decode error', 'json_invalid');
    case 'entity.too.large':
      return new PayloadTooLargeException(`Request body is larger than ${limit}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeException('Unsupported body encoding or charset');
    default:
      return error;
  }
}
