import {
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { Request } from 'express';
import { AuthUser } from './auth-user';
import { IS_PUBLIC_KEY } from './public.decorator';

/**
 * The global guard: every route needs a verified token unless it is marked `@Public()`.
 * It also enforces the user-scoped routes' rule: a `{user_id}` in the path must be the caller.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;

    await (super.canActivate(context) as Promise<boolean>);
    const request = context.switchToHttp().getRequest<Request & { user: AuthUser }>();
    const pathUserId = request.params?.user_id;
    if (pathUserId !== undefined && pathUserId !== request.user.id) {
      throw new ForbiddenException('Not allowed to access tasks of another user');
    }
    return true;
  }

  override handleRequest<TUser = AuthUser>(
    error: unknown,
    user: TUser | false,
    info: unknown,
  ): TUser {
    if (error) throw error as Error;
    if (!user) {
      throw new UnauthorizedException(typeof info === 'string' ? info : 'Not authenticated');
    }
    return user;
  }
}
