import { Recurrence } from '../recurrence';
import { Priority, priorityToRank, TaskFields } from '../task.entity';
import { OptionalTimestamp } from '../../common/validation.decorators';
import {
  PriorityField,
  RecurrenceField,
  TagsField,
  TaskDescription,
} from './task-field.decorators';

/** The optional fields that create and update share; each DTO adds its own title rule. */
export abstract class TaskFieldsDto {
  @TaskDescription()
  description?: string | null;

  @PriorityField()
  priority?: Priority;

  @TagsField()
  tags?: string[];

  @OptionalTimestamp('Due date; `2026-12-01` means that day 00:00 UTC; `null` clears it')
  due_date?: Date | null;

  @OptionalTimestamp('When to remind; `null` clears it')
  remind_at?: Date | null;

  @RecurrenceField()
  recurrence?: Recurrence | null;

  @OptionalTimestamp('No occurrence is created after it')
  recurrence_until?: Date | null;
}

/**
 * A validated create or update body as entity fields: snake_case keys to the entity's property
 * names, `priority` to its rank; absent keys stay absent. Generic, so a field added to the DTO
 * reaches the entity without an edit here (the global ValidationPipe's whitelist has already
 * dropped every key the DTO does not declare).
 */
export function toTaskFields(
  dto: TaskFieldsDto & { title?: string; completed?: boolean },
): Partial<TaskFields> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(dto)) {
    if (value === undefined) continue;
    const property = key.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
    fields[property] = property === 'priority' ? priorityToRank(value as Priority) : value;
  }
  return fields;
}
