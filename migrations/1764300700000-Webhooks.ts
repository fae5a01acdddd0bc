import type { MigrationInterface, QueryRunner } from 'typeorm';

/** (Filled in with the webhooks work of the usage issue.) */
export class Webhooks1764300700000 implements MigrationInterface {
  name = 'Webhooks1764300700000';
  async up(_q: QueryRunner): Promise<void> {}
  async down(_q: QueryRunner): Promise<void> {}
}
