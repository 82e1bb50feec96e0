import { TaskResponse } from './dto/task.response';
import { rankToPriority, TaskEntity } from './task.entity';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/**
 * The allow-list from row to wire. A column added to the entity reaches clients only when it is
 * added here, on purpose.
 */
export function toTaskResponse(task: TaskEntity): TaskResponse {
  return {
    id: task.id,
    user_id: task.userId,
    title: task.title,
    description: task.description,
    completed: task.completed,
    priority: rankToPriority(task.priority),
    tags: task.tags,
    due_date: iso(task.dueDate),
    remind_at: iso(task.remindAt),
    recurrence: task.recurrence,
    recurrence_until: iso(task.recurrenceUntil),
    completed_at: iso(task.completedAt),
    next_task_id: task.nextTaskId,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}

/** A strong validator that changes on every write of the task. */
export function etagOf(task: Pick<TaskEntity, 'id' | 'version'>): string {
  return `"${task.id}-${task.version}"`;
}
