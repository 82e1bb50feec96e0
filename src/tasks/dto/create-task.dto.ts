import { OptionalBoolean, TaskDescription, TaskTitle } from './validation.decorators';

export class CreateTaskDto {
  @TaskTitle({ required: true })
  title: string;

  @TaskDescription()
  description?: string | null;

  @OptionalBoolean('Defaults to false')
  completed?: boolean;
}
