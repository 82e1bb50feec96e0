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

export class CreateTaskDto {
  @TaskTitle({ required: true })
  title: string;

  @TaskDescription()
  description?: string | null;

  @OptionalBoolean('Defaults to false')
  completed?: boolean;

  @PriorityField()
  priority?: Priority;

  @TagsField()
  tags?: string[];

  @OptionalTimestamp('Due date; `2026-12-01` means that day 00:00 UTC')
  due_date?: Date | null;

  @OptionalTimestamp('When to remind')
  remind_at?: Date | null;

  @RecurrenceField()
  recurrence?: Recurrence | null;

  @OptionalTimestamp('No occurrence is created after it')
  recurrence_until?: Date | null;
}
