import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The changes feed pages by (change_xid, id): index that order per user, so each page is a
 * short range scan however many tasks share one transaction id (a bulk import, say).
 */
export class ChangesFeedPaging1764950400000 implements MigrationInterface {
  name = 'ChangesFeedPaging1764950400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "task_user_change_id_idx" ON "task" ("user_id", "change_xid", "id")`,
    );
    await queryRunner.query(`DROP INDEX "task_user_change_idx"`);
    await queryRunner.query(
      `CREATE INDEX "task_tombstone_user_change_id_idx"
       ON "task_tombstone" ("user_id", "change_xid", "task_id")`,
    );
    await queryRunner.query(`DROP INDEX "task_tombstone_user_change_idx"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "task_tombstone_user_change_idx" ON "task_tombstone" ("user_id", "change_xid")`,
    );
    await queryRunner.query(`DROP INDEX "task_tombstone_user_change_id_idx"`);
    await queryRunner.query(
      `CREATE INDEX "task_user_change_idx" ON "task" ("user_id", "change_xid")`,
    );
    await queryRunner.query(`DROP INDEX "task_user_change_id_idx"`);
  }
}
