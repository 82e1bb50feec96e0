import { RequestMethod } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { Module } from '@nestjs/core/injector/module';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { IS_PUBLIC_KEY } from '../src/auth/public.decorator';
import { JwtAuthGuard } from '../src/auth/jwt-auth.guard';
import { createTestApp } from './support/app';

/** The only routes that may answer without a token. Adding one here is a security decision. */
const PUBLIC_ROUTES = ['GET /health', 'GET /health/ready'];

interface Route {
  method: string;
  path: string;
  isPublic: boolean;
}

/** Every module the app loaded, from Nest's own container (what the router registered from). */
function modulesOf(app: NestExpressApplication): Module[] {
  const { container } = app as unknown as { container: { getModules(): Map<string, Module> } };
  return [...container.getModules().values()];
}

function registeredRoutes(app: NestExpressApplication): Route[] {
  const reflector = app.get(Reflector);
  const routes: Route[] = [];
  const controllers = modulesOf(app).flatMap((module) => [...module.controllers.values()]);
  for (const { instance, metatype } of controllers) {
    if (!instance || !metatype) continue;
    const prefix = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, metatype) ?? '');
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[name] as () => unknown;
      const methodIndex = Reflect.getMetadata(METHOD_METADATA, handler) as
        RequestMethod | undefined;
      if (methodIndex === undefined) continue;
      const sub = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
      const isPublic = !!reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, metatype]);
      for (const p of prefix) {
        for (const s of sub) {
          const path = `/${[p, s].filter((x) => x && x !== '/').join('/')}`.replace(/\/+/g, '/');
          routes.push({ method: RequestMethod[methodIndex], path, isPublic });
        }
      }
    }
  }
  return routes;
}

describe('Route protection', () => {
  let app: NestExpressApplication;
  let routes: Route[];

  beforeAll(async () => {
    app = await createTestApp();
    routes = registeredRoutes(app);
  });
  afterAll(() => app.close());

  it('should register the token guard globally', () => {
    const globalGuards = modulesOf(app).flatMap((module) =>
      [...module.providers.entries()]
        .filter(([token]) => typeof token === 'string' && token.startsWith(APP_GUARD))
        .map(([, provider]) => provider.metatype),
    );
    expect(globalGuards).toContain(JwtAuthGuard);
  });

  it('should find the task routes of both families', () => {
    expect(routes.length).toBeGreaterThanOrEqual(16);
    expect(routes).toContainEqual({
      method: 'DELETE',
      path: '/api/:user_id/tasks/:id',
      isPublic: false,
    });
  });

  it('should mark exactly the allow-listed routes public', () => {
    const publicRoutes = routes.filter((r) => r.isPublic).map((r) => `${r.method} ${r.path}`);
    expect(publicRoutes.sort()).toEqual([...PUBLIC_ROUTES].sort());
  });

  it('should answer 401 without a token on every non-public route, and not 401 on public ones', async () => {
    const http = request(app.getHttpServer());
    for (const route of routes) {
      const path = route.path.replace(':user_id', 'someone').replace(':id', '1');
      const res = await http[route.method.toLowerCase() as 'get'](path).send({});
      if (route.isPublic) expect([route.path, res.status]).not.toEqual([route.path, 401]);
      else {
        expect([route.method, route.path, res.status]).toEqual([route.method, route.path, 401]);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    }
  });
});
