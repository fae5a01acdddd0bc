import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Software delivery (issue 14, ADR 0038, docs/delivery.md): releases of a product, their
 * signed artifacts (bytes in the artifact store: the data directory or S3), and the log of
 * download links and completed downloads kept for compliance and analytics.
 */
export class Delivery1764303400000 implements MigrationInterface {
  name = 'Delivery1764303400000';

  async up(q: QueryRunner): Promise<void> {
    // channel: stable < rc < beta < alpha < dev (asking for one includes the more stable ones).
    // release_date: the date the release counts as published (maintenance is judged by it),
    // which may be backdated; published_at: when it really was.
    await q.query(`
      CREATE TABLE release (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        product_id uuid NOT NULL REFERENCES product(id),
        version text NOT NULL CHECK (length(version) BETWEEN 5 AND 256),
        channel text NOT NULL CHECK (channel IN ('STABLE','RC','BETA','ALPHA','DEV')),
        status text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT','PUBLISHED','YANKED')),
        release_date timestamptz(3),
        backdated boolean NOT NULL DEFAULT false,
        published_at timestamptz(3),
        yanked_at timestamptz(3),
        yank_reason text,
        required_features text[] NOT NULL DEFAULT '{}',
        platforms text[] NOT NULL DEFAULT '{}',
        architectures text[] NOT NULL DEFAULT '{}',
        device_types text[] NOT NULL DEFAULT '{}',
        min_upgrade_from text,
        notes text,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (product_id, version),
        CHECK (status = 'DRAFT' OR release_date IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX release_product_idx ON release (product_id, status, release_date DESC)`);
    await q.query(`
      CREATE TABLE release_artifact (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        release_id uuid NOT NULL REFERENCES release(id),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
        platform text,
        arch text,
        size bigint NOT NULL CHECK (size >= 0),
        sha256 char(64) NOT NULL,
        sha512 char(128) NOT NULL,
        signature text NOT NULL,
        kid text NOT NULL,
        store text NOT NULL CHECK (store IN ('fs','s3')),
        storage_key text NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (release_id, name)
      )`);
    // One row per link created and per download completed: who (key, account, device), what, when.
    await q.query(`
      CREATE TABLE download_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        event text NOT NULL CHECK (event IN ('LINK_CREATED','DOWNLOADED')),
        link_id uuid NOT NULL,
        artifact_id uuid NOT NULL REFERENCES release_artifact(id),
        release_id uuid NOT NULL REFERENCES release(id),
        account_id uuid REFERENCES account(id),
        device text,
        api_key_id uuid,
        store text NOT NULL,
        expires_at timestamptz(3),
        range_start bigint,
        range_end bigint,
        bytes bigint,
        client_ip text,
        at timestamptz(3) NOT NULL DEFAULT now(),
        CHECK ((event = 'LINK_CREATED') = (expires_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX download_log_artifact_idx ON download_log (artifact_id, at)`);
    await q.query(`CREATE INDEX download_log_account_idx ON download_log (account_id, at) WHERE account_id IS NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX download_log_link_idx ON download_log (link_id) WHERE event = 'LINK_CREATED'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE download_log`);
    await q.query(`DROP TABLE release_artifact`);
    await q.query(`DROP TABLE release`);
  }
}
