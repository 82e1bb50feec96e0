import { ApiProperty } from '@nestjs/swagger';
import { IntegerFromString } from '../../common/validation.decorators';

export class TaskParams {
  @ApiProperty({ type: 'integer', description: 'Task id' })
  @IntegerFromString()
  id: number;

  /** Present on the user-scoped family only; the guard has checked it equals the caller. */
  user_id?: string;
}
