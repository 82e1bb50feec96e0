import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsDefined, IsIn, IsInt } from 'class-validator';
import { integerFromDigits } from '../../common/validation.decorators';
import { TaskId, TaskIdProperty } from './task.response';

export const BULK_ACTIONS = ['complete', 'reopen', 'delete'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];
export const MAX_BULK_IDS = 500;

export class BulkTasksDto {
  @ApiProperty({ enum: BULK_ACTIONS })
  @IsDefined({ message: 'Field required' })
  @IsIn(BULK_ACTIONS, { message: "Input should be 'complete', 'reopen' or 'delete'" })
  action: BulkAction;

  @ApiProperty({
    type: 'array',
    items: { oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^\\d+$' }] },
    minItems: 1,
    maxItems: MAX_BULK_IDS,
    example: [1, 2, 3],
    description: 'Task ids, as numbers or as strings of digits (whatever TASK_ID_TYPE is)',
  })
  @IsDefined({ message: 'Field required' })
  @IsArray({ message: 'Input should be a valid list' })
  // A frontend that keeps ids as strings sends them back as strings.
  @Transform(({ value }: { value: unknown }) =>
    Array.isArray(value) ? value.map(integerFromDigits) : value,
  )
  @ArrayMinSize(1, { message: 'List should have at least 1 item' })
  @ArrayMaxSize(MAX_BULK_IDS, { message: `List should have at most ${MAX_BULK_IDS} items` })
  @IsInt({ each: true, message: 'Each id should be a valid integer' })
  ids: number[];
}

export class BulkResultResponse {
  @TaskIdProperty({ isArray: true, description: 'Ids the action was applied to' })
  updated: TaskId[];

  @TaskIdProperty({ isArray: true, description: "Ids that do not exist or are another user's" })
  not_found: TaskId[];
}
