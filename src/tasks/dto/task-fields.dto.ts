import { Recurrence } from '../recurrence';
import { Priority } from '../task.entity';
import {
  OptionalTimestamp,
  PriorityField,
  RecurrenceField,
  TagsField,
  TaskDescription,
} from './validation.decorators';

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
