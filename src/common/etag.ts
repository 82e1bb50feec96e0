/**
 * RFC 9110 entity-tag matching. `If-Match` uses the strong comparison (a weak tag never
 * matches); `If-None-Match` the weak one. `*` matches any current representation.
 */
export function etagMatches(header: string, etag: string, comparison: 'strong' | 'weak'): boolean {
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  const opaque = (tag: string) => tag.replace(/^W\//, '');
  return trimmed
    .split(',')
    .map((tag) => tag.trim())
    .filter(Boolean)
    .some((tag) =>
      comparison === 'strong'
        ? !tag.startsWith('W/') && tag === etag
        : opaque(tag) === opaque(etag),
    );
}
