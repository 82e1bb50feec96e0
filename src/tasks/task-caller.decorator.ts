import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { Request } from 'express';
import { AuthUser } from '../auth/auth-user';
import { TaskCaller } from './task.types';

/**
 * The verified caller and the `{user_id}` of the user-scoped route family, as they came: whose
 * tasks that allows is the service's decision (TasksService.ownerOf), not the controller's.
 */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<Request & { user: AuthUser }>();
  const caller: TaskCaller = { userId: request.user.id };
  const pathUserId = request.params.user_id as string | undefined;
  if (pathUserId !== undefined) caller.pathUserId = pathUserId;
  return caller;
});
