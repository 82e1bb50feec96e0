import { ArgumentMetadata } from '@nestjs/common';
import { ListTasksQuery } from '../tasks/dto/list-tasks.query';
import { TaskParams } from '../tasks/dto/task-params.dto';
import { AppValidationPipe } from './app-validation.pipe';
import { RequestValidationException } from './validation-error';

const query: ArgumentMetadata = { type: 'query', metatype: ListTasksQuery };
const param: ArgumentMetadata = { type: 'param', metatype: TaskParams };

describe('AppValidationPipe memo of query and path DTOs', () => {
  it('validates a repeated value once and hands out the same frozen DTO', async () => {
    const pipe = new AppValidationPipe();
    const first = (await pipe.transform({ status: 'pending', tags: 'a,b' }, query)) as object;
    const again = await pipe.transform({ status: 'pending', tags: 'a,b' }, query);
    expect(again).toBe(first);
    expect(first).toBeInstanceOf(ListTasksQuery);
    expect(Object.isFrozen(first)).toBe(true);
    for (const inner of Object.values(first)) {
      if (inner !== null && typeof inner === 'object') expect(Object.isFrozen(inner)).toBe(true);
    }
    const other = await pipe.transform({ status: 'completed' }, query);
    expect(other).not.toBe(first);
  });

  it('keeps path DTOs apart by value and by class', async () => {
    const pipe = new AppValidationPipe();
    const seven = (await pipe.transform({ id: '7' }, param)) as TaskParams;
    const eight = (await pipe.transform({ id: '8' }, param)) as TaskParams;
    expect([seven.id, eight.id]).toEqual([7, 8]);
    expect(await pipe.transform({ id: '7' }, param)).toBe(seven);
  });

  it('never remembers a refusal: the same bad value is refused every time', async () => {
    const pipe = new AppValidationPipe();
    for (let i = 0; i < 2; i++) {
      await expect(pipe.transform({ id: 'abc' }, param)).rejects.toBeInstanceOf(
        RequestValidationException,
      );
    }
    await expect(pipe.transform({ sort: 'nonsense' }, query)).rejects.toBeInstanceOf(
      RequestValidationException,
    );
  });

  it('validates long values every time instead of keeping them', async () => {
    const pipe = new AppValidationPipe();
    const tags = Array.from({ length: 15 }, (_, i) => `${i}`.padStart(40, 't')).join(',');
    const first = await pipe.transform({ tags }, query);
    expect(first).toBeInstanceOf(ListTasksQuery);
    expect(await pipe.transform({ tags }, query)).not.toBe(first);
  });
});
