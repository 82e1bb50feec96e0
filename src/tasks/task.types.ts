/** Task vocabulary shared by the DTOs (wire) and the repository (SQL), owned by neither. */
export const TASK_STATUSES = ['all', 'pending', 'completed'] as const;
export type TaskStatusFilter = (typeof TASK_STATUSES)[number];

export const SORT_FIELDS = ['created_at', 'updated_at', 'due_date', 'priority', 'title'] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export interface TaskListFilter {
  status: TaskStatusFilter;
  priorities?: number[];
  tags?: string[];
  dueBefore?: Date;
  dueAfter?: Date;
  overdue?: boolean;
  search?: string;
  updatedSince?: Date;
  sort: SortField;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export interface TaskStats {
  total: number;
  completed: number;
  pending: number;
  overdue: number;
  due_today: number;
}

/** Who asks, and for whose tasks: the token's user, and the `{user_id}` of the path if any. */
export interface TaskCaller {
  userId: string;
  pathUserId?: string;
}
