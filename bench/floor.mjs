#!/usr/bin/env node
/**
 * The framework floor for bench/run.mjs (target `floor`): the bare baseline's work
 * (bench/lib/bare.mjs: same pool, SQL, JSON and node:crypto HS256 check) served through NestJS
 * on Express the way the API is: the API's HTTP adapter (dist/common/app-express.adapter.js),
 * one controller, a global guard, Nest's default JSON body parser, handlers returning objects.
 * No validation pipe, no passport, no `jose`, no mapper class, no exception filter, no middleware
 * of ours. BENCH_FLOOR_ADAPTER=express uses Nest's stock Express adapter instead.
 *
 * It answers "what does the framework alone cost on this machine?": the API's distance to the
 * baseline splits into floor / baseline (NestJS + Express) and api / floor (our layers).
 * Plain JavaScript: the decorators are applied by hand, as TypeScript would emit them.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Module,
  Param,
  Post,
  Req,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { createRequire } from 'node:module';
import {
  authenticate,
  checkCreateBody,
  etagOf,
  HOST,
  onStop,
  openTasks,
  parseTaskId,
  PORT,
  start,
  toTaskResponse,
} from './lib/bare.mjs';

const TASKS = Symbol('tasks');
const { AppExpressAdapter } = createRequire(import.meta.url)('../dist/common/app-express.adapter');

/** Applies a class's member decorators the way TypeScript's emitted `__decorate` does. */
function decorateMethod(cls, method, decorators, parameters = []) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, method);
  parameters.forEach((decorator, index) => decorator(cls.prototype, method, index));
  for (const decorator of decorators) decorator(cls.prototype, method, descriptor);
}

class TasksController {
  constructor(tasks) {
    this.tasks = tasks;
  }

  async list(req, res) {
    const { rows, total } = await this.tasks.list(req.user);
    res.setHeader('X-Total-Count', String(total));
    return rows.map(toTaskResponse);
  }

  async findOne(req, res, rawId) {
    const id = parseTaskId(rawId);
    if (Number.isNaN(id)) {
      res.status(422);
      return { detail: [{ loc: ['path', 'id'], msg: 'must be an integer', type: 'int_parsing' }] };
    }
    const row = await this.tasks.find(req.user, id);
    if (!row) {
      res.status(404);
      return { detail: 'Task not found' };
    }
    res.setHeader('ETag', etagOf(row));
    return toTaskResponse(row);
  }

  async create(req, res, body) {
    const fields = checkCreateBody(body);
    if (fields.error) {
      res.status(422);
      return { detail: fields.error };
    }
    const row = await this.tasks.insert(req.user, fields);
    res.setHeader('ETag', etagOf(row));
    return toTaskResponse(row);
  }
}
Controller('api/tasks')(TasksController);
Inject(TASKS)(TasksController, undefined, 0);
const passthrough = () => Res({ passthrough: true });
decorateMethod(TasksController, 'list', [Get()], [Req(), passthrough()]);
decorateMethod(TasksController, 'findOne', [Get(':id')], [Req(), passthrough(), Param('id')]);
decorateMethod(TasksController, 'create', [Post(), HttpCode(201)], [Req(), passthrough(), Body()]);

class HealthController {
  constructor(tasks) {
    this.tasks = tasks;
  }

  async ready() {
    await this.tasks.pool.query('SELECT 1');
    return { status: 'ok' };
  }
}
Controller('health')(HealthController);
Inject(TASKS)(HealthController, undefined, 0);
decorateMethod(HealthController, 'ready', [Get('ready')]);

/** Every task route needs a valid HS256 token; its `sub` becomes `req.user`. */
class BearerGuard {
  canActivate(context) {
    if (context.getClass() === HealthController) return true;
    const request = context.switchToHttp().getRequest();
    const sub = authenticate(request.headers.authorization);
    if (!sub) throw new UnauthorizedException('Invalid or missing token');
    request.user = sub;
    return true;
  }
}

start('floor', async () => {
  const tasks = openTasks('todo-api-floor');
  class FloorModule {}
  Module({
    controllers: [TasksController, HealthController],
    providers: [
      { provide: TASKS, useValue: tasks },
      { provide: APP_GUARD, useClass: BearerGuard },
    ],
  })(FloorModule);

  const adapter =
    process.env.BENCH_FLOOR_ADAPTER === 'express' ? new ExpressAdapter() : new AppExpressAdapter();
  const app = await NestFactory.create(FloorModule, adapter, { logger: ['error', 'warn'] });
  app.disable('x-powered-by');
  app.set('etag', false);
  await app.listen(PORT, HOST);
  onStop(async () => {
    await app.close();
    await tasks.pool.end();
  });
});
