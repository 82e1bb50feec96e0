import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** A deleted task, remembered so that the changes feed can report it (kept 35 days). */
@Entity({ name: 'task_tombstone' })
@Index('task_tombstone_user_change_id_idx', ['userId', 'changeXid', 'taskId'])
@Index('task_tombstone_deleted_at_idx', ['deletedAt'])
export class TaskTombstoneEntity {
  @PrimaryColumn({
    name: 'task_id',
    type: 'integer',
    primaryKeyConstraintName: 'task_tombstone_pkey',
  })
  taskId: number;

  @Column({ name: 'user_id', type: 'text' })
  userId: string;

  @CreateDateColumn({ name: 'deleted_at', type: 'timestamptz', precision: 3 })
  deletedAt: Date;

  /**
   * The deleting transaction (xid8 as bigint), for the changes feed. Database-set: the migration's
   * default is `(pg_current_xact_id())::text::bigint`; written here as TypeORM reads a default
   * back (casts stripped), so that `migration:generate` sees no change.
   */
  @Column({
    name: 'change_xid',
    type: 'bigint',
    default: () => '((pg_current_xact_id()))',
    insert: false,
    update: false,
  })
  changeXid: string;
}
