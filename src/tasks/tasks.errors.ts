import { ConflictException, HttpException, HttpStatus, NotFoundException } from '@nestjs/common';

/** Another user's task and a missing one alike: existence never leaks. */
export class TaskNotFound extends NotFoundException {
  constructor() {
    super('Task not found');
  }
}

/** `If-Match` named a version the task no longer has. */
export class TaskPreconditionFailed extends HttpException {
  constructor() {
    super(
      'Precondition Failed: the task has changed since that ETag',
      HttpStatus.PRECONDITION_FAILED,
    );
  }
}

/** A create (or a recurring task's next occurrence) past MAX_TASKS_PER_USER. */
export class TaskQuotaReached extends ConflictException {
  constructor(maxTasks: number) {
    super(`Task limit reached: a user can hold at most ${maxTasks} tasks; delete some first`);
  }
}
