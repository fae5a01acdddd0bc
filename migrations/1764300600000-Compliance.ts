import type { MigrationInterface, QueryRunner } from 'typeorm';

/** (Filled in with the compliance work of the usage issue.) */
export class Compliance1764300600000 implements MigrationInterface {
  name = 'Compliance1764300600000';
  async up(_q: QueryRunner): Promise<void> {}
  async down(_q: QueryRunner): Promise<void> {}
}
