import { OptionalBoolean, TaskDescription, TaskTitle } from './validation.decorators';

/** PUT and PATCH: the fields present are merged; at least one must be. */
export class UpdateTaskDto {
  @TaskTitle({ required: false })
  title?: string;

  @TaskDescription()
  description?: string | null;

  @OptionalBoolean('Set the completion state')
  completed?: boolean;
}
