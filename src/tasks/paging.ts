import { Request, Response } from 'express';
import { TaskPage } from './tasks.mapper';

/**
 * Paging travels in headers, whatever the body's shape (a bare array by default, the contract;
 * or the envelope, LIST_RESPONSE): `X-Total-Count`, and RFC 8288 `Link` relations relative to
 * the request's own URL. Returns the body.
 */
export function setPageHeaders(
  request: Request,
  response: Response,
  page: TaskPage,
): TaskPage['body'] {
  response.setHeader('X-Total-Count', String(page.total));
  const links: string[] = [];
  const { limit, offset, total } = page;
  if (offset + page.count < total) links.push(link(request, limit, offset + limit, 'next'));
  if (offset > 0) links.push(link(request, limit, Math.max(0, offset - limit), 'prev'));
  if (links.length) response.setHeader('Link', links.join(', '));
  return page.body;
}

function link(request: Request, limit: number, offset: number, rel: string): string {
  const url = new URL(request.originalUrl, 'http://placeholder');
  url.searchParams.set('limit', String(limit));
  url.searchParams.set('offset', String(offset));
  return `<${url.pathname}${url.search}>; rel="${rel}"`;
}
