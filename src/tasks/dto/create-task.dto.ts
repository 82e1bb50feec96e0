import { TaskFieldsDto } from './task-fields.dto';
import { OptionalBoolean } from '../../common/validation.decorators';
import { TaskTitle } from './task-field.decorators';

export class CreateTaskDto extends TaskFieldsDto {
  @TaskTitle({ required: true })
  title: string;

  @OptionalBoolean('Defaults to false')
  completed?: boolean;
}
