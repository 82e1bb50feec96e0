import { RequestValidationException } from '../../common/validation-error';

/**
 * Where a client stands in the changes feed. A pass reads every change that the snapshot
 * `since` (the end of the previous pass) did not see and that the snapshot `upto` (taken when
 * the pass began) does see, tasks first, then deletions, each ordered by (transaction, id).
 * A change made after `upto` waits for the next pass, so a page boundary never loses or repeats
 * one, whichever API process answers; a client follows `cursor` while `has_more`.
 */
export interface ChangesCursor {
  /** The snapshot the previous pass read up to; absent on a first sync (everything). */
  since?: string;
  /** Set while a pass is under way. */
  pass?: ChangesPass;
}

export interface ChangesPass {
  upto: string;
  /** Tasks are done; deletions are being paged. */
  deletions: boolean;
  /** The last item sent: its change's transaction id and its task id. */
  afterXid: string;
  afterId: number;
}

const VERSION = 'c2';
const MAX_XID = (1n << 63n) - 1n; // the largest value PostgreSQL's bigint holds
const SNAPSHOT = /^(\d{1,19}):(\d{1,19}):((?:\d{1,19})(?:,\d{1,19}){0,99})?$/;

export function encodeCursor(cursor: ChangesCursor): string {
  const { since, pass } = cursor;
  const fields = pass
    ? [VERSION, since ?? '', pass.upto, pass.deletions ? 'd' : 't', pass.afterXid, pass.afterId]
    : [VERSION, since ?? ''];
  return Buffer.from(fields.join('/')).toString('base64url');
}

/** Throws a 422 at `["query", "since"]` for anything this API did not issue. */
export function decodeCursor(text: string): ChangesCursor {
  const fields = Buffer.from(text, 'base64url').toString('utf8').split('/');
  const cursor = fields[0] === VERSION ? parse(fields.slice(1)) : parseFirstVersion(fields);
  if (!cursor) {
    throw RequestValidationException.single(
      ['query', 'since'],
      'Invalid cursor: pass the `cursor` of a previous changes answer',
      'value_error',
    );
  }
  return cursor;
}

function parse([since, upto, kind, afterXid, afterId, ...rest]: string[]): ChangesCursor | null {
  if (rest.length > 0 || since === undefined || (since !== '' && !isSnapshot(since))) return null;
  const base = since === '' ? {} : { since };
  if (upto === undefined) return base;
  const valid =
    isSnapshot(upto) &&
    (kind === 't' || kind === 'd') &&
    /^\d{1,19}$/.test(afterXid ?? '') &&
    BigInt(afterXid) <= MAX_XID &&
    /^\d{1,10}$/.test(afterId ?? '') &&
    Number(afterId) <= 2_147_483_647;
  if (!valid) return null;
  return { ...base, pass: { upto, deletions: kind === 'd', afterXid, afterId: Number(afterId) } };
}

/** Cursors issued before paging (`s:<snapshot>`) still work: they start a pass. */
function parseFirstVersion([text, ...rest]: string[]): ChangesCursor | null {
  if (rest.length > 0 || !text?.startsWith('s:') || !isSnapshot(text.slice(2))) return null;
  return { since: text.slice(2) };
}

/** What PostgreSQL's `pg_snapshot` input accepts: 0 < xmin <= xip < xmax, ascending. */
function isSnapshot(text: string): boolean {
  const match = SNAPSHOT.exec(text);
  if (!match) return false;
  const [xmin, xmax] = [BigInt(match[1]), BigInt(match[2])];
  const inProgress = match[3] ? match[3].split(',').map(BigInt) : [];
  return (
    xmin > 0n &&
    xmin <= xmax &&
    xmax <= MAX_XID &&
    inProgress.every((xid, i) => xid >= xmin && xid < xmax && (i === 0 || xid > inProgress[i - 1]))
  );
}
