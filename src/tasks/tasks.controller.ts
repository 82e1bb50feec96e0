import {
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
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPreconditionFailedResponse,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Request, Response } from 'express';
import { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
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
import { TaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { IdempotencyKey } from './idempotency-key.decorator';
import { setPageHeaders } from './paging';
import { respond } from './reply';
import { TasksService } from './tasks.service';

const IdempotencyKeyHeader = ApiHeader({
  name: 'Idempotency-Key',
  required: false,
  description: 'Retries with the same key and body replay the first answer (kept 24 h)',
});
const IfMatchHeader = ApiHeader({
  name: 'If-Match',
  required: false,
  description: 'The ETag you last saw: a stale one gets 412 and changes nothing',
});
/**
 * The `If-Match` header. Not `@Headers('if-match')`, which Swagger would document a second time
 * beside {@link IfMatchHeader}, in lower case.
 */
const IfMatch = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string | undefined =>
    context.switchToHttp().getRequest<Request>().headers['if-match'],
);
/** The response, for handlers whose answer carries headers (see {@link respond}). */
const Out = () => Res({ passthrough: true });

/** Creating a task (or a recurring task's next occurrence) past MAX_TASKS_PER_USER. */
const QuotaReached = ApiConflictResponse({
  type: ErrorResponse,
  description: 'Task limit reached (MAX_TASKS_PER_USER); nothing changed',
});

const PreconditionFailed = ApiPreconditionFailedResponse({
  type: ErrorResponse,
  description: 'If-Match no longer matches',
});

/**
 * Both route families of the contract in one controller: `/api/tasks` (the user from the token)
 * and `/api/{user_id}/tasks` (the global guard refuses a `{user_id}` that is not the caller).
 * Collection routes come before `:id` so that `changes`, `stats` and `bulk` are not ids.
 * Handlers whose answer carries headers (ETag, Idempotent-Replayed) pass it through `respond`.
 */
@ApiTags('tasks')
@ApiBearerAuth()
@ApiTaskErrors()
@Controller(['api/tasks', 'api/:user_id/tasks'])
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Get()
  @ApiOperation({ summary: "List the caller's tasks: filter, search, sort, page" })
  @ApiOkResponse({
    type: [TaskResponse],
    description: 'Headers: `X-Total-Count`, `Link` (next/prev)',
  })
  async list(
    @CurrentUser() user: AuthUser,
    @Query() query: ListTasksQuery,
    @Req() request: Request,
    @Out() response: Response,
  ): Promise<TaskResponse[]> {
    const page = await this.tasks.list(user.id, query);
    setPageHeaders(request, response, page);
    return page.tasks;
  }

  @Post()
  @IdempotencyKeyHeader
  @ApiOperation({ summary: 'Create a task' })
  @QuotaReached
  @ApiCreatedResponse({ type: TaskResponse, description: 'Header: `ETag`' })
  async create(
    @CurrentUser() user: AuthUser,
    @Body() dto: CreateTaskDto,
    @Out() response: Response,
    @IdempotencyKey() key?: string,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.create(user.id, dto, key));
  }

  @Delete()
  @ApiOperation({ summary: 'Delete all completed tasks (`?status=completed` is required)' })
  @ApiOkResponse({ type: ClearTasksResponse })
  clearCompleted(
    @CurrentUser() user: AuthUser,
    @Query() _query: ClearTasksQuery,
  ): Promise<ClearTasksResponse> {
    return this.tasks.clearCompleted(user.id);
  }

  @Get('changes')
  @ApiOperation({
    summary: 'What changed since a cursor: tasks, deleted ids, the next cursor, one page at a time',
  })
  @ApiOkResponse({ type: ChangesResponse })
  changes(@CurrentUser() user: AuthUser, @Query() query: ChangesQuery): Promise<ChangesResponse> {
    return this.tasks.changes(user.id, query);
  }

  @Get('stats')
  @ApiOperation({ summary: 'Counts: total, completed, pending, overdue, due today (UTC)' })
  @ApiOkResponse({ type: TaskStatsResponse })
  stats(@CurrentUser() user: AuthUser): Promise<TaskStatsResponse> {
    return this.tasks.stats(user.id);
  }

  @Post('bulk')
  @HttpCode(HttpStatus.OK)
  @IdempotencyKeyHeader
  @ApiOperation({ summary: 'Complete, reopen or delete up to 500 tasks in one transaction' })
  @QuotaReached
  @ApiOkResponse({ type: BulkResultResponse })
  async bulk(
    @CurrentUser() user: AuthUser,
    @Body() dto: BulkTasksDto,
    @Out() response: Response,
    @IdempotencyKey() key?: string,
  ): Promise<BulkResultResponse> {
    return respond(response, await this.tasks.bulk(user.id, dto, key));
  }

  @Get(':id')
  @ApiHeader({ name: 'If-None-Match', required: false, description: '304 when unchanged' })
  @ApiOperation({ summary: 'Read one task' })
  @ApiOkResponse({ type: TaskResponse, description: 'Header: `ETag`' })
  @ApiResponse({ status: HttpStatus.NOT_MODIFIED, description: 'If-None-Match matched' })
  async get(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Out() response: Response,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.get(user.id, id));
  }

  @Put(':id')
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Update a task (the fields present are merged)' })
  @ApiOkResponse({ type: TaskResponse })
  async replace(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: UpdateTaskDto,
    @Out() response: Response,
    @IfMatch() ifMatch?: string,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.update(user.id, id, dto, ifMatch));
  }

  @Patch(':id')
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Partially update a task' })
  @ApiOkResponse({ type: TaskResponse })
  async update(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: UpdateTaskDto,
    @Out() response: Response,
    @IfMatch() ifMatch?: string,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.update(user.id, id, dto, ifMatch));
  }

  @Patch(':id/complete')
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Toggle completion, or set it with `{"completed": true|false}`' })
  @QuotaReached
  @ApiOkResponse({ type: TaskResponse })
  async complete(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: CompleteTaskDto,
    @Out() response: Response,
    @IfMatch() ifMatch?: string,
  ): Promise<TaskResponse> {
    return respond(response, await this.tasks.complete(user.id, id, dto, ifMatch));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Delete a task' })
  @ApiNoContentResponse({ description: 'Deleted' })
  remove(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @IfMatch() ifMatch?: string,
  ): Promise<void> {
    return this.tasks.remove(user.id, id, ifMatch);
  }
}
