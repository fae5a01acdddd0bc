import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { grantBiRole, revokeBiRole } from '../../src/bi/bi.grant';
import { AppError } from '../../src/common/errors';
import { createAccount, day, orderInput, seedCatalog, submitOrder } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';

/**
 * The `bi` schema (docs/bi.md): the pinned columns of every view, the values the views show
 * for a known book, and the read-only role `ehub bi grant` makes.
 */
const pinned = JSON.parse(readFileSync(join(__dirname, 'bi-views.pinned.json'), 'utf8')) as { views: Record<string, string[]> };

describe('bi views', () => {
  let hub: TestHub;
  let acme: string;
  let other: string;
  const roles: string[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    await seedCatalog(hub);
    acme = await createAccount(hub, 'Acme BI', '001BI0000000001');
    other = await createAccount(hub, 'Other BI');
    // 10 seats at 120.00 a year; a subscription at 365.00 for half a year (annualised ×2 by days).
    await submitOrder(hub, orderInput(acme, 'BI-1', [
      { sku: 'SEAT', quantity: 10, unitPrice: 12000, startDate: day(-10), endDate: day(354), externalLineId: 'BI-1-L1' },
      { sku: 'SUB', quantity: 1, unitPrice: 36500, startDate: day(-10), endDate: day(172) },
    ]));
    // An ended term that was renewed, and one that was not.
    await submitOrder(hub, orderInput(other, 'BI-2', [
      { sku: 'SUB', startDate: day(-400), endDate: day(-36), externalLineId: 'BI-2-L1' },
      { sku: 'FLOAT', startDate: day(-400), endDate: day(-36) },
    ]));
    await submitOrder(hub, orderInput(other, 'BI-3', [{ sku: 'SUB', action: 'RENEWAL', renewsLineRef: 'BI-2-L1', startDate: day(-35), endDate: day(329) }]));
  }, 120_000);

  afterAll(async () => {
    for (const r of roles) await revokeBiRole(hub.ds, r).catch(() => undefined);
    await hub?.close();
  });

  it('keeps every pinned column of every view, in order and type; a new column must be pinned (append only)', async () => {
    const rows: { view: string; col: string }[] = await hub.ds.query(
      `SELECT c.table_name AS view, c.column_name || ' ' || c.data_type AS col
         FROM information_schema.columns c
         JOIN information_schema.views v ON v.table_schema = c.table_schema AND v.table_name = c.table_name
        WHERE c.table_schema = 'bi' ORDER BY c.table_name, c.ordinal_position`,
    );
    const actual: Record<string, string[]> = {};
    for (const r of rows) (actual[r.view] ??= []).push(r.col);
    for (const [view, cols] of Object.entries(pinned.views)) {
      expect({ view, cols: actual[view]?.slice(0, cols.length) }).toEqual({ view, cols });
    }
    // Nothing unpinned: a column added by a migration is added to the pin file too, at the end.
    expect(Object.fromEntries(Object.entries(actual).map(([v, c]) => [v, c.length]))).toEqual(
      Object.fromEntries(Object.entries(pinned.views).map(([v, c]) => [v, c.length])),
    );
  });

  it('shows entitlements with their annual value, accounts with ARR and CRM id, and renewal outcomes', async () => {
    const ents: { sku: string; live: boolean; annual_value_minor: string; in_use: string | null }[] = await hub.ds.query(
      `SELECT sku, live, annual_value_minor, in_use FROM bi.entitlements WHERE account_id = $1 ORDER BY sku`,
      [acme],
    );
    // SEAT: 12000 × 10 × 365 / 365 days; SUB: 36500 × 1 × 365 / 183 days, rounded.
    expect(ents).toEqual([
      { sku: 'SEAT', live: true, annual_value_minor: '120000', in_use: '0' },
      { sku: 'SUB', live: true, annual_value_minor: String(Math.round((36500 * 365) / 183)), in_use: null },
    ]);
    const [acc] = await hub.ds.query(`SELECT name, crm_account_id, live_entitlements, arr_minor FROM bi.accounts WHERE account_id = $1`, [acme]);
    expect(acc).toEqual({ name: 'Acme BI', crm_account_id: '001BI0000000001', live_entitlements: '2', arr_minor: String(120000 + Math.round((36500 * 365) / 183)) });

    const renewals: { sku: string; action: string; outcome: string }[] = await hub.ds.query(
      `SELECT sku, action, outcome FROM bi.renewals WHERE account_id = $1 ORDER BY term_start, sku`,
      [other],
    );
    expect(renewals).toEqual([
      { sku: 'FLOAT', action: 'NEW', outcome: 'NOT_RENEWED' },
      { sku: 'SUB', action: 'NEW', outcome: 'RENEWED' },
      { sku: 'SUB', action: 'RENEWAL', outcome: 'OPEN' },
    ]);
    const [version] = await hub.ds.query(`SELECT major, minor FROM bi.schema_version`);
    expect(version).toEqual({ major: 1, minor: 1 });
  });

  it('bi.accounts shows which account a merged-away account now lives in (merged_into, appended in 1.1)', async () => {
    const dup = await createAccount(hub, 'Acme BI (duplicate)');
    const before = await hub.ds.query(`SELECT account_id, merged_into FROM bi.accounts WHERE account_id = ANY($1::uuid[]) ORDER BY name`, [[acme, dup]]);
    expect(before).toEqual([{ account_id: acme, merged_into: null }, { account_id: dup, merged_into: null }]);
    await hub.ok('mutation($s: ID!, $m: ID!) { mergeAccounts(survivorId: $s, mergedId: $m, reason: "same customer") { id } }', { s: acme, m: dup });
    const after = await hub.ds.query(`SELECT account_id, merged_into FROM bi.accounts WHERE account_id = ANY($1::uuid[]) ORDER BY name`, [[acme, dup]]);
    expect(after).toEqual([{ account_id: acme, merged_into: null }, { account_id: dup, merged_into: acme }]);
    // What a dashboard filters on: accounts that were not merged away.
    const [live] = await hub.ds.query(`SELECT count(*)::int AS n FROM bi.accounts WHERE merged_into IS NULL AND account_id = ANY($1::uuid[])`, [[acme, dup]]);
    expect(live.n).toBe(1);
  });

  it('ehub bi grant: a role that reads the bi views and nothing else', async () => {
    const role = `bi_test_${process.pid}_${Date.now() % 100000}`;
    roles.push(role);
    const g = await grantBiRole(hub.ds, role, { password: 'correct-horse-battery' });
    expect(g).toMatchObject({ role, created: true, password: 'correct-horse-battery' });
    expect(g.views).toEqual(Object.keys(pinned.views).sort());

    const url = new URL(hub.databaseUrl);
    url.username = role;
    url.password = 'correct-horse-battery';
    const c = new Client({ connectionString: url.toString() });
    await c.connect();
    try {
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM accounts`); // bi is on its search path
      expect(rows[0].n).toBeGreaterThanOrEqual(2);
      const refused = async (sql: string) => {
        const err = await c.query(sql).then(() => null, (e: { code?: string }) => e);
        expect({ sql, code: err?.code }).toEqual({ sql, code: expect.stringMatching(/^(42501|25006)$/) });
      };
      await refused(`SELECT * FROM public.account`); // a base table: 42501 insufficient_privilege
      await refused(`SELECT * FROM public.api_key`);
      await refused(`DELETE FROM bi.findings`); // read-only transaction (25006) or no right (42501)
      await refused(`UPDATE bi.findings SET status = 'RESOLVED'`);
      await c.query(`SET default_transaction_read_only = off`);
      await refused(`UPDATE bi.findings SET status = 'RESOLVED'`); // no UPDATE right on the view either
      await refused(`CREATE TABLE bi.scratch (a int)`);
      await refused(`CREATE TABLE public.scratch (a int)`);
    } finally {
      await c.end();
    }

    // Again: same role, grants brought up to date, password kept (none shown).
    const again = await grantBiRole(hub.ds, role);
    expect(again).toMatchObject({ created: false, password: null });
    expect(await revokeBiRole(hub.ds, role)).toBe(true);
    const [gone] = await hub.ds.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1`, [role]);
    expect(gone.n).toBe(0);
  });

  it('refuses bad role names, short passwords, the hub role and privileged roles, creating nothing', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'OK', (e) => (e instanceof AppError ? e.subCode : String(e)));
    expect(await code(grantBiRole(hub.ds, 'Robert"; DROP TABLE account; --'))).toBe('BI_ROLE_INVALID');
    expect(await code(grantBiRole(hub.ds, 'bi_short_pw', { password: 'short' }))).toBe('BI_PASSWORD_TOO_SHORT');
    const [me] = await hub.ds.query(`SELECT current_user AS u`);
    expect(await code(grantBiRole(hub.ds, me.u))).toBe('BI_ROLE_IS_HUB');
    const priv = `bi_priv_${process.pid}`;
    await hub.ds.query(`CREATE ROLE ${priv} CREATEROLE`);
    try {
      expect(await code(grantBiRole(hub.ds, priv))).toBe('BI_ROLE_PRIVILEGED');
      const [r] = await hub.ds.query(`SELECT has_schema_privilege($1, 'bi', 'USAGE') AS usage`, [priv]);
      expect(r.usage).toBe(false);
    } finally {
      await hub.ds.query(`DROP ROLE ${priv}`);
    }
    const [n] = await hub.ds.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname IN ('bi_short_pw')`);
    expect(n.n).toBe(0);
  });
});
