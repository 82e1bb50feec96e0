import { TaskFieldsDto } from './task-fields.dto';
import { OptionalBoolean } from '../../common/validation.decorators';
import { TaskTitle } from './task-field.decorators';

/** PUT and PATCH: the fields present are merged; at least one must be. */
export class UpdateTaskDto extends TaskFieldsDto {
  @TaskTitle({ required: false })
  title?: string;

  @OptionalBoolean('Set the completion state')
  completed?: boolean;
}
