import { applyDecorators } from '@nestjs/common';
import {
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiProperty,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';

export class ErrorResponse {
  @ApiProperty({ example: 'Task not found' })
  detail: string;
}

export class ValidationIssueResponse {
  @ApiProperty({
    example: ['body', 'title'],
    type: 'array',
    items: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
  })
  loc: (string | number)[];

  @ApiProperty({ example: 'Field required' })
  msg: string;

  @ApiProperty({ example: 'missing' })
  type: string;
}

export class ValidationErrorResponse {
  @ApiProperty({ type: [ValidationIssueResponse] })
  detail: ValidationIssueResponse[];
}

/** The errors every task route can answer with, documented once. */
export function ApiTaskErrors({ notFound = true }: { notFound?: boolean } = {}) {
  const decorators = [
    ApiUnauthorizedResponse({
      type: ErrorResponse,
      description:
        'Missing, malformed, expired or wrongly signed token (`WWW-Authenticate: Bearer`)',
    }),
    ApiForbiddenResponse({
      type: ErrorResponse,
      description: '`{user_id}` in the path is not the caller',
    }),
    ApiUnprocessableEntityResponse({ type: ValidationErrorResponse, description: 'Invalid input' }),
    ApiTooManyRequestsResponse({
      type: ErrorResponse,
      description:
        'Over the rate limit (`Retry-After`); every answer carries `RateLimit-Limit`, ' +
        '`RateLimit-Remaining`, `RateLimit-Reset`',
    }),
  ];
  if (notFound) {
    decorators.push(
      ApiNotFoundResponse({
        type: ErrorResponse,
        description: "No such task, or another user's task",
      }),
    );
  }
  return applyDecorators(...decorators);
}
