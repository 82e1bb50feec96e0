import { Test } from '@nestjs/testing';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';

/**
 * The real AppModule, configured by the same `configureApp()` as main.ts, listening on a real
 * loopback port. `env` overrides process.env for this app only (read when the app is created).
 */
export async function createTestApp(
  env: Record<string, string | undefined> = {},
): Promise<NestExpressApplication> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete process.env[key];
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({
      logger: ['error'],
      bodyParser: false, // as in main.ts: configureApp() installs the parser
    });
    configureApp(app);
    await app.listen(0, '127.0.0.1');
    return app;
  } finally {
    process.env = saved;
  }
}
