import { Injectable, NotFoundException } from '@nestjs/common';
import { RequestValidationException } from '../common/validation-error';
import { CompleteTaskDto } from './dto/complete-task.dto';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQuery } from './dto/list-tasks.query';
import { TaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { toTaskResponse } from './tasks.mapper';
import { TaskPatch, TasksRepository } from './tasks.repository';

/** Ids are PostgreSQL `integer`s: anything outside cannot exist, so it is simply not found. */
const MAX_TASK_ID = 2_147_483_647;

export interface TaskPage {
  tasks: TaskResponse[];
  total: number;
  limit: number;
  offset: number;
}

/** Every task rule. The caller's id comes from the verified token, never from the request body. */
@Injectable()
export class TasksService {
  constructor(private readonly repository: TasksRepository) {}

  async list(ownerId: string, query: ListTasksQuery): Promise<TaskPage> {
    const { tasks, total } = await this.repository.listOwned(ownerId, query);
    return { tasks: tasks.map(toTaskResponse), total, limit: query.limit, offset: query.offset };
  }

  async get(ownerId: string, id: number): Promise<TaskResponse> {
    return toTaskResponse(
      this.found(isTaskId(id) ? await this.repository.findOwned(ownerId, id) : null),
    );
  }

  async create(ownerId: string, dto: CreateTaskDto): Promise<TaskResponse> {
    const task = await this.repository.createOwned(ownerId, {
      title: dto.title,
      description: dto.description ?? null,
      completed: dto.completed ?? false,
    });
    return toTaskResponse(task);
  }

  /** PUT and PATCH alike: merge what is present. An update that sets nothing is a client error. */
  async update(ownerId: string, id: number, dto: UpdateTaskDto): Promise<TaskResponse> {
    const patch: TaskPatch = {};
    if (dto.title !== undefined) patch.title = dto.title;
    if (dto.description !== undefined) patch.description = dto.description;
    if (dto.completed !== undefined) patch.completed = dto.completed;
    if (Object.keys(patch).length === 0) {
      throw RequestValidationException.single(
        ['body'],
        'At least one of title, description, completed must be provided',
        'value_error',
      );
    }
    return this.updated(
      isTaskId(id) ? await this.repository.updateOwned(ownerId, id, patch) : null,
    );
  }

  /** With `completed` given it is set; without, it toggles. */
  async complete(ownerId: string, id: number, dto: CompleteTaskDto): Promise<TaskResponse> {
    if (!isTaskId(id)) this.found(null);
    const task =
      dto.completed === undefined
        ? await this.repository.toggleCompletedOwned(ownerId, id)
        : await this.repository.updateOwned(ownerId, id, { completed: dto.completed });
    return this.updated(task);
  }

  async remove(ownerId: string, id: number): Promise<void> {
    if (!isTaskId(id) || !(await this.repository.deleteOwned(ownerId, id))) this.found(null);
  }

  private updated(task: Parameters<typeof toTaskResponse>[0] | null): TaskResponse {
    return toTaskResponse(this.found(task));
  }

  /** Another user's task and a missing one look the same: existence never leaks. */
  private found<T>(task: T | null): T {
    if (!task) throw new NotFoundException('Task not found');
    return task;
  }
}

function isTaskId(id: number): boolean {
  return Number.isInteger(id) && id >= 1 && id <= MAX_TASK_ID;
}
