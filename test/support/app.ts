import { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { AppExpressAdapter } from '../../src/common/app-express.adapter';
import { enabledTunings } from '../../src/config/framework-tuning';
import { TestUser } from './tokens';

/**
 * The real AppModule, configured by the same `configureApp()` as runtime/bootstrap.ts, listening
 * on a real loopback port. `env` overrides process.env for this app only (read when the app is
 * created); `logger`: the app's logger (default: Nest's, errors only).
 */
export async function createTestApp(
  env: Record<string, string | undefined> = {},
  { logger }: { logger?: LoggerService } = {},
): Promise<NestExpressApplication> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete process.env[key];
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot()] }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>(
      new AppExpressAdapter(enabledTunings(process.env.FRAMEWORK_TUNING_OFF)),
      {
        logger: logger ?? ['error'],
        bodyParser: false, // as in runtime/bootstrap.ts: configureApp() installs the parser
      },
    );
    configureApp(app);
    await app.listen(0, '127.0.0.1');
    return app;
  } finally {
    process.env = saved;
  }
}

/**
 * One app for a whole suite: booted before its first test, closed after its last. Read `app` and
 * `http` inside tests (they are set once `beforeAll` has run).
 */
export function useTestApp(env: Record<string, string | undefined> = {}): {
  app: NestExpressApplication;
  http: ReturnType<typeof request>;
} {
  const suite = {} as { app: NestExpressApplication; http: ReturnType<typeof request> };
  beforeAll(async () => {
    suite.app = await createTestApp(env);
    suite.http = request(suite.app.getHttpServer());
  });
  afterAll(() => suite.app?.close());
  return suite;
}

/** A task as the API returns it, for suites that read a few fields of it. */
export type Task = { id: number; title: string; [key: string]: unknown };

/** `POST /api/tasks` as `user`, expecting 201: the created task. */
export async function createTask(
  http: ReturnType<typeof request>,
  user: TestUser,
  body: object,
): Promise<Task> {
  return (await http.post('/api/tasks').set(user.auth).send(body).expect(201)).body as Task;
}
