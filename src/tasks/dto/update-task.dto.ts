import { Priority } from '../task.entity';
import { Recurrence } from '../recurrence';
import {
  OptionalBoolean,
  OptionalTimestamp,
  PriorityField,
  RecurrenceField,
  TagsField,
  TaskDescription,
  TaskTitle,
} from './validation.decorators';

/** PUT and PATCH: the fields present are merged; at least one must be. */
export class UpdateTaskDto {
  @TaskTitle({ required: false })
  title?: string;

  @TaskDescription()
  description?: string | null;

  @OptionalBoolean('Set the completion state')
  completed?: boolean;

  @PriorityField()
  priority?: Priority;

  @TagsField()
  tags?: string[];

  @OptionalTimestamp('Due date; `null` clears it')
  due_date?: Date | null;

  @OptionalTimestamp('When to remind; `null` clears it')
  remind_at?: Date | null;

  @RecurrenceField()
  recurrence?: Recurrence | null;

  @OptionalTimestamp('No occurrence is created after it')
  recurrence_until?: Date | null;
}
