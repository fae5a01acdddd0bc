import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `bi` schema: stable, documented SQL views for BI tools (Metabase, Power BI, Tableau),
 * read through a role made by `ehub bi grant` (docs/bi.md, ADR 0030).
 *
 * Version 1. Within a major version a view's columns are only ever appended: never renamed,
 * retyped or dropped (test/bi/bi-views.int-spec.ts pins them). A later migration that adds a
 * column must `CREATE OR REPLACE VIEW` with the old columns first, in the same order.
 *
 * Views run with their owner's rights, so the BI role needs no right on the base tables;
 * they show hub ids (uuid) so rows join across views, and money in minor units next to its
 * currency, as the API does (ADR 0008).
 */
export class BiViews1764302400000 implements MigrationInterface {
  name = 'BiViews1764302400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS bi`);
    // Nobody but the owner and the roles `ehub bi grant` makes may use it.
    await q.query(`REVOKE ALL ON SCHEMA bi FROM PUBLIC`);

    await q.query(`
      CREATE VIEW bi.schema_version AS
      SELECT 1 AS major, 0 AS minor`);

    // One row per entitlement. phase: as licensing checks see it now; live = ACTIVE or IN_GRACE.
    // annual_value_minor: for a live term entitlement, the unit price of the latest line that
    // granted, renewed, amended or upgraded it × its quantity × 365 ÷ that line's days (the
    // ARR the CRM sync sends, docs/salesforce-setup.md).
    await q.query(`
      CREATE VIEW bi.entitlements AS
      SELECT e.id AS entitlement_id, e.account_id, e.product_id, e.sku, p.name AS product_name, e.model, e.status,
             ph.phase, ph.phase IN ('ACTIVE','IN_GRACE') AS live,
             e.quantity, e.start_date, e.end_date,
             CASE e.model
               WHEN 'NAMED_USER' THEN (SELECT count(*) FROM seat s WHERE s.entitlement_id = e.id AND s.released_at IS NULL)
               WHEN 'DEVICE_LOCKED' THEN (SELECT count(*) FROM activation a WHERE a.entitlement_id = e.id AND a.deactivated_at IS NULL)
               WHEN 'CONCURRENT' THEN (SELECT count(*) FROM lease l WHERE l.entitlement_id = e.id AND l.checked_in_at IS NULL AND l.expires_at > now())
             END AS in_use,
             e.order_id, o.source AS order_source, o.external_id AS order_external_id,
             CASE WHEN ph.phase IN ('ACTIVE','IN_GRACE') AND e.end_date IS NOT NULL AND price.days > 0
                  THEN round(price.unit_price_minor * e.quantity * 365 / price.days)::bigint END AS annual_value_minor,
             coalesce(price.currency, o.currency) AS currency,
             e.created_at, e.updated_at
        FROM entitlement e
        JOIN product p ON p.id = e.product_id
        JOIN sales_order o ON o.id = e.order_id
        CROSS JOIN LATERAL (SELECT (CASE
            WHEN e.status = 'SUSPENDED' THEN 'SUSPENDED'
            WHEN e.status = 'CANCELLED' THEN 'CANCELLED'
            WHEN now() < e.starts_at THEN 'NOT_STARTED'
            WHEN e.ends_at IS NOT NULL AND now() >= e.ends_at THEN
              CASE WHEN e.ended_reason IS NOT NULL THEN 'CANCELLED'
                   WHEN e.grace_ends_at IS NULL OR now() >= e.grace_ends_at THEN 'EXPIRED'
                   ELSE 'IN_GRACE' END
            WHEN e.status = 'EXPIRED' THEN 'EXPIRED'
            ELSE 'ACTIVE' END) AS phase) ph
        LEFT JOIN LATERAL (
          SELECT l.unit_price_minor, l.currency, (l.end_date - l.start_date + 1) AS days
            FROM entitlement_event ev JOIN order_line l ON l.id = ev.order_line_id
           WHERE ev.entitlement_id = e.id AND l.status = 'ACTIVE' AND l.end_date IS NOT NULL
             AND l.action IN ('NEW','RENEWAL','UPGRADE','AMENDMENT')
           ORDER BY ev.id DESC LIMIT 1
        ) price ON e.end_date IS NOT NULL`);

    // One row per account; arr_minor sums annual values in the account's currency only.
    await q.query(`
      CREATE VIEW bi.accounts AS
      SELECT a.id AS account_id, a.name, a.domain, a.country, a.segment, a.status, a.currency, a.created_at,
             (SELECT r.external_id FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.system = 'salesforce'
               ORDER BY r.created_at, r.id LIMIT 1) AS crm_account_id,
             (SELECT r.external_id FROM external_ref r WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.system = 'netsuite'
               ORDER BY r.created_at, r.id LIMIT 1) AS erp_customer_id,
             coalesce(ent.live_entitlements, 0) AS live_entitlements,
             coalesce(ent.arr_minor, 0)::bigint AS arr_minor,
             coalesce(f.open_findings, 0) AS open_findings,
             coalesce(f.leakage_minor, 0)::bigint AS open_leakage_minor,
             (SELECT max(u.latest_at) FROM usage_rollup u WHERE u.account_id = a.id AND u.granularity = 'D') AS last_usage_at
        FROM account a
        LEFT JOIN LATERAL (
          SELECT count(*) FILTER (WHERE be.live) AS live_entitlements,
                 sum(be.annual_value_minor) FILTER (WHERE be.currency = a.currency) AS arr_minor
            FROM bi.entitlements be WHERE be.account_id = a.id
        ) ent ON true
        LEFT JOIN LATERAL (
          SELECT count(*) AS open_findings, sum(cf.leakage_minor) FILTER (WHERE cf.currency = a.currency) AS leakage_minor
            FROM compliance_finding cf WHERE cf.account_id = a.id AND cf.status IN ('OPEN','ACKNOWLEDGED')
        ) f ON true`);

    // Usage per day, meter, entitlement and deployment (from the daily rollups, UTC days).
    await q.query(`
      CREATE VIEW bi.usage_daily AS
      SELECT u.account_id, nullif(u.entitlement_id, '00000000-0000-0000-0000-000000000000'::uuid) AS entitlement_id,
             m.key AS meter_key, m.name AS meter_name, m.unit, m.aggregation,
             (u.bucket AT TIME ZONE 'UTC')::date AS day, u.deployment,
             u.sum AS quantity, u.count AS events, u.max AS peak, u.latest_at
        FROM usage_rollup u JOIN meter m ON m.id = u.meter_id
       WHERE u.granularity = 'D'`);

    await q.query(`
      CREATE VIEW bi.findings AS
      SELECT cf.id AS finding_id, cf.kind, cf.status, cf.account_id, cf.entitlement_id, cf.feature_key, cf.meter_key,
             cf.period_start, cf.period_end, cf.unit, cf.entitled, cf.used, cf.over, cf.utilization,
             cf.leakage_minor, cf.currency, cf.first_seen_at, cf.last_seen_at, cf.status_changed_at, cf.auto_resolved
        FROM compliance_finding cf`);

    // One row per term: a line with an end date that granted or renewed an entitlement.
    // outcome: RENEWED (an active renewal line names it), NOT_RENEWED (ended without one),
    // OPEN (not ended yet, no renewal yet).
    await q.query(`
      CREATE VIEW bi.renewals AS
      SELECT l.id AS order_line_id, t.entitlement_id, l.account_id, l.order_id, l.sku, l.model, l.action,
             l.start_date AS term_start, l.end_date AS term_end, l.quantity,
             round(l.unit_price_minor * l.quantity * 365 / (l.end_date - l.start_date + 1))::bigint AS annual_value_minor,
             l.currency,
             r.id AS renewed_by_line_id,
             CASE WHEN r.id IS NOT NULL THEN 'RENEWED' WHEN l.end_date < current_date THEN 'NOT_RENEWED' ELSE 'OPEN' END AS outcome
        FROM order_line l
        CROSS JOIN LATERAL (SELECT min(ev.entitlement_id::text)::uuid AS entitlement_id FROM entitlement_event ev WHERE ev.order_line_id = l.id) t
        LEFT JOIN LATERAL (
          SELECT r.id FROM order_line r WHERE r.renews_line_id = l.id AND r.status = 'ACTIVE' ORDER BY r.created_at LIMIT 1
        ) r ON true
       WHERE l.end_date IS NOT NULL AND l.status = 'ACTIVE' AND l.action IN ('NEW','RENEWAL')`);

    // Recognised revenue per obligation and month (schedule, adjustments and usage entries).
    await q.query(`
      CREATE VIEW bi.revenue_waterfall AS
      SELECT re.account_id, re.obligation_id, ob.order_id, ob.order_line_id, ob.product_id, p.sku,
             re.month, re.kind, re.amount_minor, ob.currency
        FROM revenue_entry re
        JOIN revenue_obligation ob ON ob.id = re.obligation_id
        JOIN product p ON p.id = ob.product_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA bi CASCADE`);
  }
}
