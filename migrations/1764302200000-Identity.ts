import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Identity resolution (issue 13, ADR 0028): candidate matches between accounts with their
 * confidence and evidence (the review queue), the merges with exactly which rows moved (so
 * an unmerge puts back precisely those), and on an account the survivor it was merged into.
 */
export class Identity1764302200000 implements MigrationInterface {
  name = 'Identity1764302200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE account ADD COLUMN merged_into uuid REFERENCES account(id)`);
    await q.query(`CREATE INDEX account_merged_into_idx ON account (merged_into) WHERE merged_into IS NOT NULL`);

    await q.query(`
      CREATE TABLE account_merge (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        survivor_id uuid NOT NULL REFERENCES account(id),
        merged_id uuid NOT NULL REFERENCES account(id),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
        status text NOT NULL DEFAULT 'MERGED' CHECK (status IN ('MERGED','UNMERGED')),
        moved jsonb NOT NULL DEFAULT '[]',
        removed jsonb NOT NULL DEFAULT '[]',
        moved_count int NOT NULL DEFAULT 0,
        match_id uuid,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        unmerged_at timestamptz(3),
        unmerge_reason text,
        CHECK (survivor_id <> merged_id)
      )`);
    // One live merge per merged account: a second merge of the same account is refused by the database too.
    await q.query(`CREATE UNIQUE INDEX account_merge_live_uq ON account_merge (merged_id) WHERE status = 'MERGED'`);
    await q.query(`CREATE INDEX account_merge_survivor_idx ON account_merge (survivor_id, created_at)`);

    await q.query(`
      CREATE TABLE identity_match (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_a uuid NOT NULL REFERENCES account(id),
        account_b uuid NOT NULL REFERENCES account(id),
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING','CONFIRMED','REJECTED','AUTO_MERGED')),
        confidence numeric(4,3) NOT NULL CHECK (confidence BETWEEN 0 AND 1),
        evidence jsonb NOT NULL,
        reason text,
        merge_id uuid REFERENCES account_merge(id),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        decided_at timestamptz(3),
        CHECK (account_a < account_b)
      )`);
    // A pair is proposed once: a rejected pair stays rejected.
    await q.query(`CREATE UNIQUE INDEX identity_match_pair_uq ON identity_match (account_a, account_b)`);
    await q.query(`CREATE INDEX identity_match_status_idx ON identity_match (status, created_at, id)`);
    await q.query(`CREATE INDEX identity_match_b_idx ON identity_match (account_b)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE identity_match`);
    await q.query(`DROP TABLE account_merge`);
    await q.query(`ALTER TABLE account DROP COLUMN merged_into`);
  }
}
