import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ChangesQuery, ChangesResponse } from '../dto/sync.dto';
import { TaskWire } from '../tasks.mapper';
import { ChangesPass, decodeCursor, encodeCursor } from './changes-cursor';
import { ChangesRepository, DeletedTask } from './changes.repository';

/** The changes feed: pages of what changed since a cursor, and the deletions it reports. */
@Injectable()
export class ChangesService {
  constructor(
    private readonly repository: ChangesRepository,
    private readonly wire: TaskWire,
  ) {}

  /** Remembers deleted tasks for the feed, in the deleting transaction `tx`. */
  recordDeletions(tx: EntityManager, ownerId: string, ids: number[]): Promise<void> {
    return this.repository.in(tx).rememberDeletedOwned(ownerId, ids);
  }

  /**
   * One page of the feed (see ChangesCursor): tasks first, then deletions, at most `limit`
   * items in all. Each page is one statement per kind, so no request holds a transaction, and
   * any API process can answer the next page.
   */
  async page(ownerId: string, query: ChangesQuery): Promise<ChangesResponse> {
    const { since, pass: current } = query.since === undefined ? {} : decodeCursor(query.since);
    const pass = current ?? {
      upto: await this.repository.currentSnapshot(),
      deletions: false,
      afterXid: '0',
      afterId: 0,
    };
    const window = (limit: number) => ({ ...pass, since, limit });
    const more = query.limit + 1; // one beyond the page tells whether there is more

    const changed = pass.deletions ? [] : await this.repository.changedOwned(ownerId, window(more));
    const tasks = changed.slice(0, query.limit);
    let next: ChangesPass | undefined;
    if (changed.length > query.limit) {
      const last = tasks[tasks.length - 1];
      next = { ...pass, afterXid: last.changeXid, afterId: last.task.id };
    }
    let deleted: DeletedTask[] = [];
    if (!next && since !== undefined) {
      // A first sync lists what exists: there is nothing it could have deleted.
      const from = pass.deletions ? pass : { ...pass, afterXid: '0', afterId: 0 };
      const room = query.limit - tasks.length;
      const found = await this.repository.deletedOwned(ownerId, {
        ...from,
        since,
        limit: room + 1,
      });
      deleted = found.slice(0, room);
      if (found.length > room) {
        const last = deleted[deleted.length - 1] as DeletedTask | undefined;
        next = {
          ...from,
          deletions: true,
          ...(last && { afterXid: last.changeXid, afterId: last.taskId }),
        };
      }
    }
    return {
      tasks: tasks.map(({ task }) => this.wire.task(task)),
      deleted_ids: this.wire.ids(deleted.map(({ taskId }) => taskId)),
      cursor: encodeCursor(next ? { since, pass: next } : { since: pass.upto }),
      has_more: next !== undefined,
    };
  }
}
