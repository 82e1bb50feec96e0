import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { TaskStatusFilter } from './dto/list-tasks.query';
import { TaskEntity } from './task.entity';

export interface TaskListOptions {
  status: TaskStatusFilter;
  limit: number;
  offset: number;
}

export type TaskPatch = Partial<Pick<TaskEntity, 'title' | 'description' | 'completed'>>;
export type NewTask = Pick<TaskEntity, 'title' | 'description' | 'completed'>;

/** Columns as stored, for rows that come back from `RETURNING`. */
interface TaskRow {
  id: number;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  created_at: Date;
  updated_at: Date;
}

/**
 * The only way to the `task` table. Every method takes the owner's id and puts it in the query's
 * WHERE clause, so a query that forgets whose tasks it touches cannot be written by accident.
 */
@Injectable()
export class TasksRepository {
  constructor(@InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>) {}

  async listOwned(
    ownerId: string,
    { status, limit, offset }: TaskListOptions,
  ): Promise<{ tasks: TaskEntity[]; total: number }> {
    const query = this.tasks
      .createQueryBuilder('task')
      .where('task.user_id = :ownerId', { ownerId })
      .orderBy('task.created_at', 'DESC')
      .addOrderBy('task.id', 'DESC')
      .limit(limit)
      .offset(offset);
    if (status !== 'all')
      query.andWhere('task.completed = :completed', { completed: status === 'completed' });
    const [tasks, total] = await query.getManyAndCount();
    return { tasks, total };
  }

  findOwned(ownerId: string, id: number): Promise<TaskEntity | null> {
    return this.tasks.findOneBy({ userId: ownerId, id });
  }

  createOwned(ownerId: string, task: NewTask): Promise<TaskEntity> {
    return this.tasks.save(this.tasks.create({ ...task, userId: ownerId }));
  }

  /** Applies `patch` in one statement and returns the row as it is afterwards. */
  async updateOwned(ownerId: string, id: number, patch: TaskPatch): Promise<TaskEntity | null> {
    return this.updateReturning(ownerId, id, { ...patch });
  }

  /** Flips `completed` atomically: two concurrent toggles cancel out rather than both "win". */
  toggleCompletedOwned(ownerId: string, id: number): Promise<TaskEntity | null> {
    return this.updateReturning(ownerId, id, { completed: () => 'NOT "completed"' });
  }

  async deleteOwned(ownerId: string, id: number): Promise<boolean> {
    const result = await this.tasks.delete({ userId: ownerId, id });
    return (result.affected ?? 0) > 0;
  }

  private async updateReturning(
    ownerId: string,
    id: number,
    set: Record<string, unknown>,
  ): Promise<TaskEntity | null> {
    const result = await this.tasks
      .createQueryBuilder()
      .update(TaskEntity)
      .set({ ...set, updatedAt: () => 'now()' })
      .where('id = :id AND user_id = :ownerId', { id, ownerId })
      .returning('*')
      .execute();
    const [row] = result.raw as TaskRow[];
    return row ? this.fromRow(row) : null;
  }

  private fromRow(row: TaskRow): TaskEntity {
    return this.tasks.create({
      id: row.id,
      userId: row.user_id,
      title: row.title,
      description: row.description,
      completed: row.completed,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    });
  }
}
