import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `bi.accounts` gains `merged_into` (the surviving account of an identity merge, null for an
 * account that was not merged away), appended at the end as the bi views' rule requires
 * (docs/bi.md, ADR 0030): the old columns come first, in the same order and types, so saved
 * BI questions keep working. `bi.schema_version` becomes 1.1.
 *
 * `CREATE OR REPLACE VIEW` keeps the grants `ehub bi grant` gave on the view. `down` has to
 * drop and recreate the view (a column cannot be removed in place): run `ehub bi grant` again
 * for existing BI roles after it.
 */
const COLUMNS_V1_0 = `
      SELECT a.id AS account_id, a.name, a.domain, a.country, a.segment, a.status, a.currency, a.created_at,
             (SELECT r.external_id FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.system = 'salesforce'
               ORDER BY r.created_at, r.id LIMIT 1) AS crm_account_id,
             (SELECT r.external_id FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.system = 'netsuite'
               ORDER BY r.created_at, r.id LIMIT 1) AS erp_customer_id,
             coalesce(ent.live_entitlements, 0) AS live_entitlements,
             coalesce(ent.arr_minor, 0)::bigint AS arr_minor,
             coalesce(f.open_findings, 0) AS open_findings,
             coalesce(f.leakage_minor, 0)::bigint AS open_leakage_minor,
             (SELECT max(u.latest_at) FROM usage_rollup u WHERE u.account_id = a.id AND u.granularity = 'D') AS last_usage_at`;

const FROM = `
        FROM account a
        LEFT JOIN LATERAL (
          SELECT count(*) FILTER (WHERE be.live) AS live_entitlements,
                 sum(be.annual_value_minor) FILTER (WHERE be.currency = a.currency) AS arr_minor
            FROM bi.entitlements be WHERE be.account_id = a.id
        ) ent ON true
        LEFT JOIN LATERAL (
          SELECT count(*) AS open_findings, sum(cf.leakage_minor) FILTER (WHERE cf.currency = a.currency) AS leakage_minor
            FROM compliance_finding cf WHERE cf.account_id = a.id AND cf.status IN ('OPEN','ACKNOWLEDGED')
        ) f ON true`;

export class BiAccountsMergedInto1764302900000 implements MigrationInterface {
  name = 'BiAccountsMergedInto1764302900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE OR REPLACE VIEW bi.accounts AS ${COLUMNS_V1_0},
             a.merged_into ${FROM}`);
    await q.query(`CREATE OR REPLACE VIEW bi.schema_version AS SELECT 1 AS major, 1 AS minor`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE OR REPLACE VIEW bi.schema_version AS SELECT 1 AS major, 0 AS minor`);
    await q.query(`DROP VIEW bi.accounts`);
    await q.query(`CREATE VIEW bi.accounts AS ${COLUMNS_V1_0} ${FROM}`);
  }
}
