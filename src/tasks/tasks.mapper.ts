import { TaskResponse } from './dto/task.response';
import { TaskEntity } from './task.entity';

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
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}
