import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import {
  ApiBearerAuth,
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
import { Reply, ReplyInterceptor } from './reply';
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
const PreconditionFailed = ApiPreconditionFailedResponse({
  type: ErrorResponse,
  description: 'If-Match no longer matches',
});

/**
 * Both route families of the contract in one controller: `/api/tasks` (the user from the token)
 * and `/api/{user_id}/tasks` (the global guard refuses a `{user_id}` that is not the caller).
 * Collection routes come before `:id` so that `changes`, `stats` and `bulk` are not ids.
 */
@ApiTags('tasks')
@ApiBearerAuth()
@ApiTaskErrors()
@UseInterceptors(ReplyInterceptor)
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
    @Res({ passthrough: true }) response: Response,
  ): Promise<Reply<TaskResponse[]>> {
    const page = await this.tasks.list(user.id, query);
    setPageHeaders(request, response, page);
    return { body: page.tasks };
  }

  @Post()
  @IdempotencyKeyHeader
  @ApiOperation({ summary: 'Create a task' })
  @ApiCreatedResponse({ type: TaskResponse, description: 'Header: `ETag`' })
  create(
    @CurrentUser() user: AuthUser,
    @Body() dto: CreateTaskDto,
    @IdempotencyKey() key?: string,
  ): Promise<Reply<TaskResponse>> {
    return this.tasks.create(user.id, dto, key);
  }

  @Delete()
  @ApiOperation({ summary: 'Delete all completed tasks (`?status=completed` is required)' })
  @ApiOkResponse({ type: ClearTasksResponse })
  async clearCompleted(
    @CurrentUser() user: AuthUser,
    @Query() _query: ClearTasksQuery,
  ): Promise<Reply<ClearTasksResponse>> {
    return { body: await this.tasks.clearCompleted(user.id) };
  }

  @Get('changes')
  @ApiOperation({ summary: 'What changed since a cursor: tasks, deleted ids, the next cursor' })
  @ApiOkResponse({ type: ChangesResponse })
  async changes(
    @CurrentUser() user: AuthUser,
    @Query() { since }: ChangesQuery,
  ): Promise<Reply<ChangesResponse>> {
    return { body: await this.tasks.changes(user.id, since) };
  }

  @Get('stats')
  @ApiOperation({ summary: 'Counts: total, completed, pending, overdue, due today (UTC)' })
  @ApiOkResponse({ type: TaskStatsResponse })
  async stats(@CurrentUser() user: AuthUser): Promise<Reply<TaskStatsResponse>> {
    return { body: await this.tasks.stats(user.id) };
  }

  @Post('bulk')
  @HttpCode(HttpStatus.OK)
  @IdempotencyKeyHeader
  @ApiOperation({ summary: 'Complete, reopen or delete up to 500 tasks in one transaction' })
  @ApiOkResponse({ type: BulkResultResponse })
  bulk(
    @CurrentUser() user: AuthUser,
    @Body() dto: BulkTasksDto,
    @IdempotencyKey() key?: string,
  ): Promise<Reply<BulkResultResponse>> {
    return this.tasks.bulk(user.id, dto, key);
  }

  @Get(':id')
  @ApiHeader({ name: 'If-None-Match', required: false, description: '304 when unchanged' })
  @ApiOperation({ summary: 'Read one task' })
  @ApiOkResponse({ type: TaskResponse, description: 'Header: `ETag`' })
  @ApiResponse({ status: HttpStatus.NOT_MODIFIED, description: 'If-None-Match matched' })
  get(@CurrentUser() user: AuthUser, @Param() { id }: TaskParams): Promise<Reply<TaskResponse>> {
    return this.tasks.get(user.id, id);
  }

  @Put(':id')
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Update a task (the fields present are merged)' })
  @ApiOkResponse({ type: TaskResponse })
  replace(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: UpdateTaskDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<Reply<TaskResponse>> {
    return this.tasks.update(user.id, id, dto, ifMatch);
  }

  @Patch(':id')
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Partially update a task' })
  @ApiOkResponse({ type: TaskResponse })
  update(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: UpdateTaskDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<Reply<TaskResponse>> {
    return this.tasks.update(user.id, id, dto, ifMatch);
  }

  @Patch(':id/complete')
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Toggle completion, or set it with `{"completed": true|false}`' })
  @ApiOkResponse({ type: TaskResponse })
  complete(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: CompleteTaskDto,
    @Headers('if-match') ifMatch?: string,
  ): Promise<Reply<TaskResponse>> {
    return this.tasks.complete(user.id, id, dto, ifMatch);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @IfMatchHeader
  @PreconditionFailed
  @ApiOperation({ summary: 'Delete a task' })
  @ApiNoContentResponse({ description: 'Deleted' })
  async remove(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Headers('if-match') ifMatch?: string,
  ): Promise<Reply<void>> {
    return { body: await this.tasks.remove(user.id, id, ifMatch) };
  }
}
