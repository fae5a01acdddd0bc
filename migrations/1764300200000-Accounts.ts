import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Accounts1764300200000 implements MigrationInterface {
  name = 'Accounts1764300200000';
  async up(_q: QueryRunner): Promise<void> {}
  async down(_q: QueryRunner): Promise<void> {}
}
