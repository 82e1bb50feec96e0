import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Recurrence } from './recurrence';

/** Stored as 1..3 so that "priority, descending" is an index-friendly integer sort. */
export const PRIORITIES = ['low', 'medium', 'high'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const priorityToRank = (priority: Priority): number => PRIORITIES.indexOf(priority) + 1;
export const rankToPriority = (rank: number): Priority => PRIORITIES[rank - 1] ?? 'medium';

/**
 * A row of `task`. Never sent to a client as is: `toTaskResponse` decides what goes on the wire.
 * `version` (ETag) and `change_xid` (changes feed) are maintained by a trigger on every update.
 * `next_task_id` has no foreign key on purpose: it keeps naming the first occurrence even after
 * that task is deleted, so completing again never creates a second one.
 */
@Entity({ name: 'task' })
@Index('task_user_created_idx', ['userId', 'createdAt', 'id'])
@Index('task_user_due_idx', ['userId', 'dueDate', 'id'])
@Index('task_user_change_id_idx', ['userId', 'changeXid', 'id'])
// Declared so that `migration:generate` leaves them alone; their definitions live in migrations
// (trigram operator classes are beyond what TypeORM can describe).
@Index('task_user_search_idx', { synchronize: false })
@Check('task_title_not_blank', `length(btrim("title")) > 0`)
@Check('task_priority_check', `"priority" BETWEEN 1 AND 3`)
@Check('task_recurrence_check', `"recurrence" IN ('daily', 'weekly', 'monthly', 'yearly')`)
@Check('task_recurrence_needs_due_date', `"recurrence" IS NULL OR "due_date" IS NOT NULL`)
export class TaskEntity {
  @PrimaryGeneratedColumn('identity', { type: 'integer', generatedIdentity: 'ALWAYS' })
  id: number;

  /** The owner, for good: no update may move a task to another user. */
  @Column({ name: 'user_id', type: 'text', update: false })
  userId: string;

  @Column({ type: 'varchar', length: 200 })
  title: string;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  description: string | null;

  @Column({ type: 'boolean', default: false })
  completed: boolean;

  @Column({ type: 'smallint', default: 2 })
  priority: number;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags: string[];

  @Column({ name: 'due_date', type: 'timestamptz', precision: 3, nullable: true })
  dueDate: Date | null;

  @Column({ name: 'remind_at', type: 'timestamptz', precision: 3, nullable: true })
  remindAt: Date | null;

  @Column({ type: 'varchar', length: 10, nullable: true })
  recurrence: Recurrence | null;

  @Column({ name: 'recurrence_until', type: 'timestamptz', precision: 3, nullable: true })
  recurrenceUntil: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', precision: 3, nullable: true })
  completedAt: Date | null;

  @Column({ name: 'next_task_id', type: 'integer', nullable: true })
  nextTaskId: number | null;

  /** Database-set (the trigger bumps it on every update). */
  @Column({ type: 'integer', default: 1, insert: false, update: false })
  version: number;

  /** The transaction (xid8 as bigint) of the last write, for the changes feed. Database-set. */
  @Column({
    name: 'change_xid',
    type: 'bigint',
    select: false,
    insert: false,
    update: false,
  })
  changeXid?: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}

/** Columns the server (or the database) owns; every other column is a client's to write. */
const SERVER_OWNED = [
  'id',
  'userId',
  'version',
  'changeXid',
  'createdAt',
  'updatedAt',
  'completedAt',
  'nextTaskId',
] as const;

/** What a client may write; everything else is the server's (or the database's). */
export type TaskFields = Omit<TaskEntity, (typeof SERVER_OWNED)[number]>;

/** The client-writable fields of a task, whatever columns it has. */
export function taskFieldsOf(task: TaskEntity): TaskFields {
  const fields: Partial<TaskEntity> = { ...task };
  for (const key of SERVER_OWNED) delete fields[key];
  return fields as TaskFields;
}

/** What a write to an existing task may set. */
export type TaskPatch = Partial<TaskFields & Pick<TaskEntity, 'completedAt' | 'nextTaskId'>>;

/** What a create inserts (the owner aside); columns left out are NULL. */
export type NewTask = Pick<TaskFields, 'title' | 'completed' | 'priority' | 'tags'> &
  Partial<TaskFields> &
  Pick<TaskEntity, 'completedAt'>;
