import { OptionalBoolean } from '../../common/validation.decorators';

/** `PATCH …/complete`: with no body the state toggles; with `completed` it is set. */
export class CompleteTaskDto {
  @OptionalBoolean('Omit to toggle')
  completed?: boolean;
}
