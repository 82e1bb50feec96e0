import {
  applyDecorators,
  Body,
  Controller,
  createParamDecorator,
  Delete,
  ExecutionContext,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPreconditionFailedResponse,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Request, Response } from 'express';
import { AlsoRoute } from '../common/also-route.decorator';
import { ApiTaskErrors, ErrorResponse } from '../common/api-responses';
import { BulkResultResponse, BulkTasksDto } from './dto/bulk-tasks.dto';
import { CompleteTaskDto } from './dto/complete-task.dto';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQuery } from './dto/list-tasks.query';
import {
  ChangesQuery,
  ChangesResponse,
  ClearTasksQuery,
  ClearTasksResponse,
  TaskStatsResponse,
} from './dto/sync.dto';
import { TaskParams } from './dto/task-params.dto';
import { DeletedTaskResponse, TaskListResponse, TaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { IdempotencyKey } from './idempotency/idempotency-key.decorator';
import { setPageHeaders } from './paging';
import { respond, sendDeleted } from './reply';
import { Caller } from './task-caller.decorator';
import type { TaskCaller } from './task.types';
import type { TaskPage } from './tasks.mapper';
import { TasksService } from './tasks.service';

/**
 * The `If-Match` header. Not `@Headers('if-match')`, which Swagger would document a second time
 * beside the composite's ApiHeader, in lower case.
 */
const IfMatch = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string | undefined =>
    context.switchToHttp().getRequest<Request>().headers['if-match'],
);
/** The response, for handlers whose answer carries headers (see {@link respond}). */
const Out = () => Res({ passthrough: true });

/** A route's summary and its success answer. */
const Doc = (summary: string, success: MethodDecorator) =>
  applyDecorators(ApiOperation({ summary }), success);

/** A POST that may be retried with an `Idempotency-Key` and may hit MAX_TASKS_PER_USER. */
const Idempotent = () =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'Retries with the same key and body replay the first answer (kept 24 h)',
    }),
    QuotaReached(),
  );

/** A write of one task, guarded by `If-Match`. */
const Conditional = () =>
  applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description: 'The ETag you last saw: a stale one gets 412 and changes nothing',
    }),
    ApiPreconditionFailedResponse({
      type: ErrorResponse,
      description: 'If-Match no longer matches',
    }),
  );

/** Creating a task (or a recurring task's next occurrence) past MAX_TASKS_PER_USER. */
const QuotaReached = () =>
  ApiConflictResponse({
    type: ErrorResponse,
    description: 'Task limit reached (MAX_TASKS_PER_USER); nothing changed',
  });

const OneTask = (description?: string) => ApiOkResponse({ type: TaskResponse, description });

/**
 * Both route families of the contract in one controller: `/api/tasks` and `/api/{user_id}/tasks`
 * reach the same service methods, which refuse a `{user_id}` that is not the caller (see
 * {@link Caller}). Collection routes come before `:id` so that `changes`, `stats` and `bulk` are
 * not ids. Handlers whose answer carries headers (ETag, Idempotent-Replayed) pass it through
 * `respond`. The list and DELETE answers are documented in their default shapes; the OpenAPI
 * document shows the configured ones (tasks.openapi.ts).
 */
@ApiTags('tasks')
@ApiBearerAuth()
@ApiTaskErrors()
@ApiExtraModels(TaskListResponse, DeletedTaskResponse)
@Controller(['api/tasks', 'api/:user_id/tasks'])
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Get()
  @Doc(
    "List the caller's tasks: filter, search, sort, page",
    ApiOkResponse({ type: [TaskResponse], description: 'Headers: `X-Total-Count`, `Link`' }),
  )
  async list(
    @Caller() caller: TaskCaller,
    @Query() query: ListTasksQuery,
    @Req() request: Request,
    @Out() response: Response,
  ): Promise<TaskPage['body']> {
    return setPageHeaders(request, response, await this.tasks.list(caller, query));
  }

  @Post()
  @Idempotent()
  @Doc('Create a task', ApiCreatedResponse({ type: TaskResponse, description: 'Header: `ETag`' }))
  async create(
    @Caller() caller: TaskCaller,
    @Body() dto: CreateTaskDto,
    @Out() response: Response,
    @IdempotencyKey() key?: string,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.create(caller, dto, key));
  }

  @Delete()
  @Doc(
    'Delete all completed tasks (`?status=completed` is required)',
    ApiOkResponse({ type: ClearTasksResponse }),
  )
  clearCompleted(
    @Caller() caller: TaskCaller,
    @Query() _query: ClearTasksQuery,
  ): Promise<ClearTasksResponse> {
    return this.tasks.clearCompleted(caller);
  }

  @Get('changes')
  @Doc(
    'What changed since a cursor: tasks, deleted ids, the next cursor, one page at a time',
    ApiOkResponse({ type: ChangesResponse }),
  )
  changes(@Caller() caller: TaskCaller, @Query() query: ChangesQuery): Promise<ChangesResponse> {
    return this.tasks.changes(caller, query);
  }

  @Get('stats')
  @Doc(
    'Counts: total, completed, pending, overdue, due today (UTC)',
    ApiOkResponse({ type: TaskStatsResponse }),
  )
  stats(@Caller() caller: TaskCaller): Promise<TaskStatsResponse> {
    return this.tasks.stats(caller);
  }

  @Post('bulk')
  @HttpCode(HttpStatus.OK)
  @Idempotent()
  @Doc(
    'Complete, reopen or delete up to 500 tasks in one transaction',
    ApiOkResponse({ type: BulkResultResponse }),
  )
  async bulk(
    @Caller() caller: TaskCaller,
    @Body() dto: BulkTasksDto,
    @Out() response: Response,
    @IdempotencyKey() key?: string,
  ): Promise<BulkResultResponse> {
    return respond(response, await this.tasks.bulk(caller, dto, key));
  }

  @Get(':id')
  @ApiHeader({ name: 'If-None-Match', required: false, description: '304 when unchanged' })
  @ApiResponse({ status: HttpStatus.NOT_MODIFIED, description: 'If-None-Match matched' })
  @Doc('Read one task', OneTask('Header: `ETag`'))
  async get(
    @Caller() caller: TaskCaller,
    @Param() { id }: TaskParams,
    @Out() response: Response,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.get(caller, id));
  }

  @AlsoRoute('replace', Put(':id'))
  @Patch(':id')
  @Conditional()
  @Doc('Update a task: PUT and PATCH alike merge the fields present', OneTask())
  async update(
    @Caller() caller: TaskCaller,
    @Param() { id }: TaskParams,
    @Body() dto: UpdateTaskDto,
    @Out() response: Response,
    @IfMatch() ifMatch?: string,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.update(caller, id, dto, ifMatch));
  }

  @Patch(':id/complete')
  @Conditional()
  @QuotaReached()
  @Doc('Toggle completion, or set it with `{"completed": true|false}`', OneTask())
  async complete(
    @Caller() caller: TaskCaller,
    @Param() { id }: TaskParams,
    @Body() dto: CompleteTaskDto,
    @Out() response: Response,
    @IfMatch() ifMatch?: string,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.complete(caller, id, dto, ifMatch));
  }

  /** Answers by itself: 204 or 200 is DELETE_RESPONSE's choice, not a fixed `@HttpCode`. */
  @Delete(':id')
  @Conditional()
  @Doc('Delete a task', ApiNoContentResponse({ description: 'Deleted' }))
  async remove(
    @Caller() caller: TaskCaller,
    @Param() { id }: TaskParams,
    @Res() response: Response,
    @IfMatch() ifMatch?: string,
  ): Promise<void> {
    sendDeleted(response, await this.tasks.remove(caller, id, ifMatch));
  }
}
