import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole stored model-fit analysis of an account (docs/model-fit.md), beside its CRM
 * summary: `customer360` shows the analysis the daily job (or `recomputeModelFit`) made, with
 * its instant, instead of re-rating a year of usage on every view. Null for rows stored
 * before this column existed (the view then computes the analysis live).
 */
export class ModelFitAnalysis1764303500000 implements MigrationInterface {
  name = 'ModelFitAnalysis1764303500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE account_model_fit ADD COLUMN analysis jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE account_model_fit DROP COLUMN analysis`);
  }
}
