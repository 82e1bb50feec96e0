import { TaskFieldsDto } from './task-fields.dto';
import { OptionalBoolean, TaskTitle } from './validation.decorators';

export class CreateTaskDto extends TaskFieldsDto {
  @TaskTitle({ required: true })
  title: string;

  @OptionalBoolean('Defaults to false')
  completed?: boolean;
}
