import {
  Body,
  Controller,
  Delete,
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
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Request, Response } from 'express';
import { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ApiTaskErrors } from '../common/api-responses';
import { CompleteTaskDto } from './dto/complete-task.dto';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQuery } from './dto/list-tasks.query';
import { TaskParams } from './dto/task-params.dto';
import { TaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { setPageHeaders } from './paging';
import { TasksService } from './tasks.service';

/**
 * Both route families of the contract in one controller: `/api/tasks` (the user from the token)
 * and `/api/{user_id}/tasks` (the global guard refuses a `{user_id}` that is not the caller).
 */
@ApiTags('tasks')
@ApiBearerAuth()
@ApiTaskErrors()
@Controller(['api/tasks', 'api/:user_id/tasks'])
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Get()
  @ApiOperation({ summary: "List the caller's tasks, newest first" })
  @ApiOkResponse({
    type: [TaskResponse],
    description: 'Headers: `X-Total-Count`, `Link` (next/prev)',
  })
  async list(
    @CurrentUser() user: AuthUser,
    @Query() query: ListTasksQuery,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TaskResponse[]> {
    const page = await this.tasks.list(user.id, query);
    setPageHeaders(request, response, page);
    return page.tasks;
  }

  @Post()
  @ApiOperation({ summary: 'Create a task' })
  @ApiCreatedResponse({ type: TaskResponse })
  create(@CurrentUser() user: AuthUser, @Body() dto: CreateTaskDto): Promise<TaskResponse> {
    return this.tasks.create(user.id, dto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read one task' })
  @ApiOkResponse({ type: TaskResponse })
  get(@CurrentUser() user: AuthUser, @Param() { id }: TaskParams): Promise<TaskResponse> {
    return this.tasks.get(user.id, id);
  }

  @Put(':id')
  @ApiOperation({ summary: 'Update a task (the fields present are merged)' })
  @ApiOkResponse({ type: TaskResponse })
  replace(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: UpdateTaskDto,
  ): Promise<TaskResponse> {
    return this.tasks.update(user.id, id, dto);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Partially update a task' })
  @ApiOkResponse({ type: TaskResponse })
  update(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: UpdateTaskDto,
  ): Promise<TaskResponse> {
    return this.tasks.update(user.id, id, dto);
  }

  @Patch(':id/complete')
  @ApiOperation({ summary: 'Toggle completion, or set it with `{"completed": true|false}`' })
  @ApiOkResponse({ type: TaskResponse })
  complete(
    @CurrentUser() user: AuthUser,
    @Param() { id }: TaskParams,
    @Body() dto: CompleteTaskDto,
  ): Promise<TaskResponse> {
    return this.tasks.complete(user.id, id, dto);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a task' })
  @ApiNoContentResponse({ description: 'Deleted' })
  remove(@CurrentUser() user: AuthUser, @Param() { id }: TaskParams): Promise<void> {
    return this.tasks.remove(user.id, id);
  }
}
