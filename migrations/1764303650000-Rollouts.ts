import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Staged rollouts (issue 14 part 3, ADR 0040, docs/delivery.md): at most one rollout per
 * release — cumulative percentage stages (the last one 100), the current stage, the failure
 * threshold and the number of install reports it is judged on, ACTIVE or HALTED (with why
 * and when), the instant outcomes are judged from (the start, or the last resume), and the
 * last counts it was judged on.
 */
export class Rollouts1764303650000 implements MigrationInterface {
  name = 'Rollouts1764303650000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE release_rollout (
        release_id uuid PRIMARY KEY REFERENCES release(id),
        stages int[] NOT NULL CHECK (cardinality(stages) BETWEEN 1 AND 20 AND stages[cardinality(stages)] = 100),
        stage int NOT NULL DEFAULT 0 CHECK (stage >= 0),
        failure_threshold numeric NOT NULL CHECK (failure_threshold > 0 AND failure_threshold <= 1),
        min_reports int NOT NULL CHECK (min_reports >= 1),
        auto_advance boolean NOT NULL DEFAULT true,
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'HALTED')),
        halted_reason text,
        halted_at timestamptz,
        installed int NOT NULL DEFAULT 0,
        failed int NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL DEFAULT now(),
        judged_from timestamptz NOT NULL DEFAULT now(),
        stage_started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (stage < cardinality(stages))
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE release_rollout`);
  }
}
