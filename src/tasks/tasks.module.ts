import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Transactions } from '../database/transactions';
import { IdempotencyKeyEntity } from './idempotency/idempotency-key.entity';
import { IdempotencyRepository } from './idempotency/idempotency.repository';
import { IdempotencyService } from './idempotency/idempotency.service';
import { ChangesRepository } from './sync/changes.repository';
import { ChangesService } from './sync/changes.service';
import { TaskTombstoneEntity } from './sync/task-tombstone.entity';
import { TaskEntity } from './task.entity';
import { TasksController } from './tasks.controller';
import { TasksMaintenance } from './tasks.maintenance';
import { TaskWire } from './tasks.mapper';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';

@Module({
  imports: [TypeOrmModule.forFeature([TaskEntity, IdempotencyKeyEntity, TaskTombstoneEntity])],
  controllers: [TasksController],
  providers: [
    TasksService,
    TasksRepository,
    TasksMaintenance,
    TaskWire,
    Transactions,
    IdempotencyService,
    IdempotencyRepository,
    ChangesService,
    ChangesRepository,
  ],
})
export class TasksModule {}
