import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import cors from 'cors';
import { NextFunction, Request, Response } from 'express';
import type { Server } from 'node:http';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { refuseBodyEarly } from './common/body-parsing';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { AppValidationPipe } from './common/app-validation.pipe';
import { HttpDrain } from './common/http-drain';
import { requestContext } from './common/request-context.middleware';
import {
  appConfig,
  AppConfig,
  httpConfig,
  HttpConfig,
  logConfig,
  LogConfig,
  tasksConfig,
  TasksConfig,
} from './config/configuration';
import { documentTaskSettings } from './tasks/tasks.openapi';

export const ALLOWED_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'If-Match',
  'If-None-Match',
  'X-Request-Id',
];
export const EXPOSED_RESPONSE_HEADERS = [
  'ETag',
  'X-Total-Count',
  'Link',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
  'Idempotent-Replayed',
  'X-Request-Id',
];

/**
 * Everything about the HTTP surface that is not a route: the one place `runtime/bootstrap.ts` and the e2e
 * tests share, so the tests exercise the app exactly as it runs.
 */
export function configureApp(app: NestExpressApplication): INestApplication {
  const http = app.get<HttpConfig>(httpConfig.KEY);
  const { docsEnabled } = app.get<AppConfig>(appConfig.KEY);
  app.disable('x-powered-by');
  // Express's automatic ETag is weak and body-derived; task versions will carry their own.
  app.set('etag', false);

  // Who may set X-Forwarded-For (the client address that anonymous rate limits count by).
  app.set('trust proxy', http.trustProxy);

  app.use(requestContext(app.get<LogConfig>(logConfig.KEY)));
  app.use(function privateAnswers(_request: Request, response: Response, next: NextFunction) {
    // Task data is private: no shared or browser cache keeps it; no type sniffing either.
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Cache-Control', 'no-store');
    next();
  });
  const allowedOrigins = new Set(http.corsOrigins);
  const corsHeaders = cors({
    // Only origins on the allow-list get here (below): never a reflection of any Origin.
    origin: true,
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ALLOWED_REQUEST_HEADERS,
    exposedHeaders: EXPOSED_RESPONSE_HEADERS,
    maxAge: 600,
  });
  app.use(function corsForBrowsers(request: Request, response: Response, next: NextFunction) {
    // Without an Origin there is no browser to answer; caches still learn that it matters.
    // A refused origin gets no CORS header at all (not even Allow-Credentials).
    const origin = request.headers.origin;
    if (origin === undefined || !allowedOrigins.has(origin)) {
      response.setHeader('Vary', 'Origin');
      return next();
    }
    corsHeaders(request, response, next);
  });
  // Before anything reads the body: refuse by its headers. The guards then verify the token and
  // count the request; only a request they let through has its body read (JsonBodyGuard).
  app.use(refuseBodyEarly(http.bodyLimitBytes));
  app.useGlobalPipes(new AppValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  if (docsEnabled) setupSwagger(app);
  configureHttpServer(app, http);
  return app;
}

/** Socket timeouts from the config, and the drain that SIGTERM uses (see runtime/bootstrap.ts). */
function configureHttpServer(app: NestExpressApplication, http: HttpConfig): void {
  const server: Server = app.getHttpServer();
  // Node's default keep-alive timeout (5 s) is shorter than a balancer's idle timeout (AWS ALB:
  // 60 s), so the balancer would reuse sockets the API is closing, and see resets.
  server.keepAliveTimeout = http.keepAliveTimeoutMs;
  server.headersTimeout = http.headersTimeoutMs;
  app.get(HttpDrain).attach(server);
}

function setupSwagger(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Task API')
      .setDescription(
        'Multi-user tasks for Next.js + Better Auth frontends. Send a Better Auth token as ' +
          '`Authorization: Bearer <token>`: a `jwt` plugin token (verified through the JWKS) or ' +
          'an HS256 token signed with `BETTER_AUTH_SECRET`; with `BETTER_AUTH_SESSION_TOKENS` on, ' +
          "also a Better Auth session token (the session cookie's value, or the `bearer` plugin's).",
      )
      .setVersion('1.0.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build(),
  );
  const tasks = app.get<TasksConfig>(tasksConfig.KEY);
  SwaggerModule.setup('docs', app, documentTaskSettings(declarePathParameters(document), tasks), {
    jsonDocumentUrl: 'openapi.json',
    yamlDocumentUrl: 'openapi.yaml',
    swaggerOptions: { persistAuthorization: true },
  });
}

/**
 * One controller serves `/api/tasks` and `/api/{user_id}/tasks`, and Nest documents the params
 * of its handlers once for both: declare every templated segment a path lacks (`user_id`).
 */
function declarePathParameters(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
    for (const operation of Object.values(item) as { parameters?: unknown[] }[]) {
      if (!operation || typeof operation !== 'object') continue;
      const parameters = (operation.parameters ??= []) as { name: string; in: string }[];
      for (const name of names) {
        if (parameters.some((p) => p.in === 'path' && p.name === name)) continue;
        parameters.unshift({
          name,
          in: 'path',
          required: true,
          description: "Must be the caller's user id (the token's `sub`), else 403",
          schema: { type: 'string' },
        } as { name: string; in: string });
      }
    }
  }
  return document;
}
