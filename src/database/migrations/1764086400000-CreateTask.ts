import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateTask1764086400000 implements MigrationInterface {
  name = 'CreateTask1764086400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "task" (
        "id" integer GENERATED ALWAYS AS IDENTITY NOT NULL,
        "user_id" text NOT NULL,
        "title" character varying(200) NOT NULL,
        "description" character varying(1000),
        "completed" boolean NOT NULL DEFAULT false,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "task_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "task_title_not_blank" CHECK (length(btrim("title")) > 0)
      )
    `);
    // Serves "the caller's tasks, newest first" (ties by id) for every list and count.
    await queryRunner.query(
      `CREATE INDEX "task_user_created_idx" ON "task" ("user_id", "created_at", "id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "task"`);
  }
}
