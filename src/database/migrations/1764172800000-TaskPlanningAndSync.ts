import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * "Beyond the seeds": planning fields, a version for ETags, change tracking for the sync feed,
 * deletion tombstones, idempotency keys, and the indexes the new list queries need.
 */
export class TaskPlanningAndSync1764172800000 implements MigrationInterface {
  name = 'TaskPlanningAndSync1764172800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Case-insensitive substring search (ILIKE '%…%') served by trigram indexes; btree_gin lets
    // the owner column sit in the same GIN index, so a search never reads other users' matches.
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS btree_gin`);
    await queryRunner.query(`
      ALTER TABLE "task"
        ADD "priority" smallint NOT NULL DEFAULT 2,
        ADD "tags" text[] NOT NULL DEFAULT '{}',
        ADD "due_date" TIMESTAMP(3) WITH TIME ZONE,
        ADD "remind_at" TIMESTAMP(3) WITH TIME ZONE,
        ADD "recurrence" character varying(10),
        ADD "recurrence_until" TIMESTAMP(3) WITH TIME ZONE,
        ADD "completed_at" TIMESTAMP(3) WITH TIME ZONE,
        ADD "next_task_id" integer,
        ADD "version" integer NOT NULL DEFAULT 1,
        ADD "change_xid" bigint,
        ADD CONSTRAINT "task_priority_check" CHECK ("priority" BETWEEN 1 AND 3),
        ADD CONSTRAINT "task_recurrence_check"
          CHECK ("recurrence" IN ('daily', 'weekly', 'monthly', 'yearly')),
        ADD CONSTRAINT "task_recurrence_needs_due_date"
          CHECK ("recurrence" IS NULL OR "due_date" IS NOT NULL)
    `);
    // Existing rows: fill in what they lack before the trigger exists, so their updated_at and
    // version stay as they were.
    await queryRunner.query(`
      UPDATE "task" SET "completed_at" = CASE WHEN "completed" THEN "updated_at" END,
                        "change_xid" = pg_current_xact_id()::text::bigint
    `);
    await queryRunner.query(`ALTER TABLE "task" ALTER COLUMN "change_xid" SET NOT NULL`);

    // Every write bumps the version (ETag) and records its transaction (changes feed), whatever
    // code path made it: the rule lives with the data. The transaction id is an xid8 kept as a
    // bigint (64 bits, epoch included), a type TypeORM can describe.
    await queryRunner.query(`
      CREATE FUNCTION "task_touch"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          NEW."version" := OLD."version" + 1;
          NEW."updated_at" := now();
        END IF;
        NEW."change_xid" := pg_current_xact_id()::text::bigint;
        RETURN NEW;
      END $$
    `);
    await queryRunner.query(`
      CREATE TRIGGER "task_touch" BEFORE INSERT OR UPDATE ON "task"
      FOR EACH ROW EXECUTE FUNCTION "task_touch"()
    `);
    await queryRunner.query(
      `CREATE INDEX "task_user_due_idx" ON "task" ("user_id", "due_date", "id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "task_user_change_idx" ON "task" ("user_id", "change_xid")`,
    );
    await queryRunner.query(`
      CREATE INDEX "task_user_search_idx" ON "task"
      USING gin ("user_id", "title" gin_trgm_ops, "description" gin_trgm_ops)
    `);

    await queryRunner.query(`
      CREATE TABLE "task_tombstone" (
        "task_id" integer NOT NULL,
        "user_id" text NOT NULL,
        "deleted_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "change_xid" bigint NOT NULL DEFAULT (pg_current_xact_id())::text::bigint,
        CONSTRAINT "task_tombstone_pkey" PRIMARY KEY ("task_id")
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "task_tombstone_user_change_idx" ON "task_tombstone" ("user_id", "change_xid")`,
    );
    await queryRunner.query(
      `CREATE INDEX "task_tombstone_deleted_at_idx" ON "task_tombstone" ("deleted_at")`,
    );

    await queryRunner.query(`
      CREATE TABLE "idempotency_key" (
        "user_id" text NOT NULL,
        "key" character varying(255) NOT NULL,
        "request_hash" character(64) NOT NULL,
        "response_status" smallint,
        "response_body" jsonb,
        "response_etag" text,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "idempotency_key_pkey" PRIMARY KEY ("user_id", "key")
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "idempotency_key_created_at_idx" ON "idempotency_key" ("created_at")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "idempotency_key"`);
    await queryRunner.query(`DROP TABLE "task_tombstone"`);
    await queryRunner.query(`DROP TRIGGER "task_touch" ON "task"`);
    await queryRunner.query(`DROP FUNCTION "task_touch"()`);
    await queryRunner.query(`DROP INDEX "task_user_search_idx"`);
    await queryRunner.query(`DROP INDEX "task_user_change_idx"`);
    await queryRunner.query(`DROP INDEX "task_user_due_idx"`);
    await queryRunner.query(`
      ALTER TABLE "task"
        DROP COLUMN "change_xid", DROP COLUMN "version", DROP COLUMN "next_task_id",
        DROP COLUMN "completed_at", DROP COLUMN "recurrence_until", DROP COLUMN "recurrence",
        DROP COLUMN "remind_at", DROP COLUMN "due_date", DROP COLUMN "tags", DROP COLUMN "priority"
    `);
  }
}
