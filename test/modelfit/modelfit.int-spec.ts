import { dropProxyEnv, createSalesforceConnection, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { Role } from '../../src/auth/role';
import { createAccount, day, orderInput, submitOrder } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';
import { recordUsage } from '../usage/usage-support';

/**
 * Model fit against a real PostgreSQL. Acme holds 25 named seats of MF-CAD and has used it
 * for exactly 120 days (the last 120 complete UTC days): four regular users, each on their own
 * device, one event of 10 units a day at 10:00; and one burst day, 50 days ago, when 16 more
 * users each sent one event within the 14:00 hour. Every expected figure below is worked out
 * here from that description, not read back from the hub's helpers.
 */

const silent = pino({ level: 'silent' });

const FIT = `accountId windowFrom windowTo summary
  products { sku status currentModel periodFrom periodTo reason recommendation recommendedModel baselineSource
    paid { amountMinor currency } paidPerYear { amountMinor currency } baseline { amountMinor currency } annualSaving { amountMinor currency }
    usageShape { historyDays activeDays distinctUsers peakMonthlyUsers peakConcurrentUsers averageDailyActiveUsers peakDailyActiveUsers
      peakToAverage seatsOwned activeUsersLast30Days idleSeatShare burstiness distinctDevices peakMonthlyDevices meterUnits { meterKey units } }
    charges { model rateable explanation unitsNeeded unitsRated charge { amountMinor currency } } }`;

interface Fit {
  accountId: string;
  windowFrom: string;
  windowTo: string;
  summary: string | null;
  products: {
    sku: string;
    status: string;
    currentModel: string;
    periodFrom: string | null;
    periodTo: string;
    reason: string;
    recommendation: string;
    recommendedModel: string | null;
    baselineSource: string | null;
    paid: { amountMinor: string; currency: string }[];
    paidPerYear: { amountMinor: string } | null;
    baseline: { amountMinor: string } | null;
    annualSaving: { amountMinor: string } | null;
    usageShape: Record<string, unknown> | null;
    charges: { model: string; rateable: boolean; explanation: string; unitsNeeded: string | null; unitsRated: string | null; charge: { amountMinor: string } | null }[];
  }[];
}

const PRICES = `mutation($sku: String!, $p: [ProductModelPriceInput!]!) {
  setProductModelPrices(sku: $sku, prices: $p) { sku modelPrices { model unitPrice { amountMinor currency } perUnits meterKey baseFee { amountMinor } includedUnits unit } }
}`;

const CATALOG_PRICES = [
  { model: 'NAMED_USER', unitPrice: { amountMinor: 120_000, currency: 'USD' } },
  { model: 'CONCURRENT', unitPrice: { amountMinor: 200_000, currency: 'USD' } },
  { model: 'DEVICE_LOCKED', unitPrice: { amountMinor: 90_000, currency: 'USD' } },
  { model: 'USAGE', unitPrice: { amountMinor: 150, currency: 'USD' }, perUnits: 10, meterKey: 'mf.calls' },
  { model: 'HYBRID', unitPrice: { amountMinor: 200, currency: 'USD' }, perUnits: 10, meterKey: 'mf.calls', baseFee: { amountMinor: 100_000, currency: 'USD' }, includedUnits: 12_000 },
];

/** Rounds num/den half up (positive bigints). */
const divRound = (num: bigint, den: bigint) => (num * 2n + den) / (2n * den);

describe('model fit', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let acme: string;
  let sfAcme: string;

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5' });
    emu = await startEmulator();
    for (const key of ['mf.use', 'mf.other']) await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
    for (const [sku, feature] of [['MF-CAD', 'mf.use'], ['MF-VIEW', 'mf.other']]) {
      await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
        i: { sku, name: sku, kind: 'SOFTWARE', listPrice: { amountMinor: 120_000, currency: 'USD' }, defaultModel: 'NAMED_USER', features: [{ key: feature, limit: 1 }] },
      });
    }
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { key: 'mf.calls', name: 'calls', aggregation: 'SUM', unit: 'call', featureKey: 'mf.use' } });
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { key: 'mf.peak', name: 'peak', aggregation: 'MAX', unit: 'x', valueProperty: 'v', featureKey: 'mf.use' } });
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { key: 'mf.views', name: 'views', aggregation: 'COUNT', unit: 'view', featureKey: 'mf.other' } });

    sfAcme = emu.insert('Account', { Name: 'Acme Fit' });
    acme = await createAccount(hub, 'Acme Fit', sfAcme);
    await createSalesforceConnection(hub, emu);
    // 25 seats for 3 000.00 over a 365-day term that started 200 days ago.
    await submitOrder(hub, orderInput(acme, 'MF-1', [{ sku: 'MF-CAD', quantity: 25, unitPrice: 120_000, startDate: day(-200), endDate: day(164) }], { orderDate: day(-200) }));

    const events: Record<string, unknown>[] = [];
    for (let d = 1; d <= 120; d++) {
      for (let u = 0; u < 4; u++) {
        events.push({ id: `r-${d}-${u}`, source: 'test', deployment: 'CLOUD', accountId: acme, meter: 'mf.calls', quantity: 10, occurredAt: `${day(-d)}T10:00:0${u}.000Z`, user: `u${u}`, device: `dev-${u}` });
      }
    }
    for (let u = 0; u < 16; u++) {
      events.push({ id: `b-${u}`, source: 'test', deployment: 'CLOUD', accountId: acme, meter: 'mf.calls', quantity: 10, occurredAt: `${day(-50)}T14:${String(u).padStart(2, '0')}:00.000Z`, user: `burst${u}` });
    }
    for (let i = 0; i < events.length; i += 1000) {
      const r = await recordUsage(hub, events.slice(i, i + 1000));
      expect(r.rejected).toEqual([]);
    }
  }, 180_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('sets model prices with clear codes for bad ones, idempotently', async () => {
    const bad = async (prices: unknown[]) => (await hub.gql(PRICES, { sku: 'MF-CAD', p: prices })).errors?.[0]?.extensions?.subCode;
    expect(await bad([{ model: 'USAGE', unitPrice: { amountMinor: 1, currency: 'USD' }, meterKey: 'no.such' }])).toBe('MODEL_PRICE_UNKNOWN_METER');
    expect(await bad([{ model: 'USAGE', unitPrice: { amountMinor: 1, currency: 'USD' }, meterKey: 'mf.peak' }])).toBe('MODEL_PRICE_METER_NOT_BILLABLE');
    expect(await bad([{ model: 'NAMED_USER', unitPrice: { amountMinor: 1, currency: 'EUR' } }])).toBe('MODEL_PRICE_CURRENCY_MISMATCH');
    expect(await bad([{ model: 'HYBRID', unitPrice: { amountMinor: 1, currency: 'USD' }, meterKey: 'mf.calls' }])).toBe('MODEL_PRICE_HYBRID_TERMS_REQUIRED');
    expect(await bad([CATALOG_PRICES[0], CATALOG_PRICES[0]])).toBe('MODEL_PRICE_DUPLICATE_MODEL');
    const [none] = await hub.ds.query(`SELECT count(*)::int AS n FROM product_model_price`);
    expect(none.n).toBe(0);

    const set = () => hub.ok<{ setProductModelPrices: { modelPrices: { model: string; unit: string; includedUnits: string | null; perUnits: number }[] } }>(PRICES, { sku: 'MF-CAD', p: CATALOG_PRICES });
    const first = await set();
    await set();
    expect(first.setProductModelPrices.modelPrices.map((p) => p.model)).toEqual(['NAMED_USER', 'CONCURRENT', 'DEVICE_LOCKED', 'HYBRID', 'USAGE']);
    expect(first.setProductModelPrices.modelPrices.find((p) => p.model === 'HYBRID')).toMatchObject({ includedUnits: '12000', perUnits: 10 });
    expect(first.setProductModelPrices.modelPrices[0]!.unit).toBe('per named user and year');
    const [audits] = await hub.ds.query(`SELECT count(*)::int AS n FROM audit_log WHERE entity = 'Product' AND operation = 'setProductModelPrices'`);
    expect(audits.n).toBe(1);
    const { product } = await hub.ok<{ product: { modelPrices: { model: string }[] } }>(`{ product(sku: "MF-CAD") { modelPrices { model } } }`);
    expect(product.modelPrices).toHaveLength(5);
  });

  it('re-rates 120 days of usage under each model, states what was paid, and recommends the cheapest that saves enough', async () => {
    const { modelFit: fit } = await hub.ok<{ modelFit: Fit }>(`query($a: ID!) { modelFit(account: $a) { ${FIT} } }`, { a: acme });
    expect(fit).toMatchObject({ accountId: acme, windowFrom: day(-365), windowTo: day(-1) });
    expect(fit.products).toHaveLength(1);
    const p = fit.products[0]!;
    expect(p).toMatchObject({ sku: 'MF-CAD', status: 'FITTED', currentModel: 'NAMED_USER', periodFrom: day(-120), periodTo: day(-1) });

    // Usage: 4 × 120 + 16 = 496 events of 10 units; daily users 4 (20 on the burst day).
    const avg = 496 / 120;
    const meanEvents = 496 / 120;
    const variance = (119 * 16 + 20 * 20) / 120 - meanEvents * meanEvents;
    expect(p.usageShape).toEqual({
      historyDays: 120,
      activeDays: 120,
      distinctUsers: 20,
      peakMonthlyUsers: 20,
      peakConcurrentUsers: 16,
      averageDailyActiveUsers: Number(avg.toFixed(4)),
      peakDailyActiveUsers: 20,
      peakToAverage: Number((20 / avg).toFixed(4)),
      seatsOwned: 25,
      activeUsersLast30Days: 4,
      idleSeatShare: 0.84, // (25 − 4) ÷ 25
      burstiness: Number((Math.sqrt(variance) / meanEvents).toFixed(4)),
      distinctDevices: 4,
      peakMonthlyDevices: 4,
      meterUnits: [{ meterKey: 'mf.calls', units: '4960' }],
    });

    const charges = Object.fromEntries(p.charges.map((c) => [c.model, c]));
    // Capacity: peak + 10 % headroom, rounded up to whole units, × the price per year.
    expect(charges.NAMED_USER).toMatchObject({ rateable: true, unitsNeeded: '20', unitsRated: '22', charge: { amountMinor: String(22 * 120_000) } });
    expect(charges.CONCURRENT).toMatchObject({ unitsNeeded: '16', unitsRated: '18', charge: { amountMinor: String(18 * 200_000) } });
    expect(charges.DEVICE_LOCKED).toMatchObject({ unitsNeeded: '4', unitsRated: '5', charge: { amountMinor: String(5 * 90_000) } });
    // Usage: 4 960 units in 120 days → × 365 ÷ 120 a year, at 1.50 per 10 units.
    const usage = divRound(4960n * 365n * 150n, 120n * 10n);
    expect(usage).toBe(226_300n);
    expect(charges.USAGE).toMatchObject({ unitsNeeded: '15086.6667', charge: { amountMinor: usage.toString() } });
    // Hybrid: 1 000.00 base with 12 000 units; (4 960 × 365 ÷ 120 − 12 000) over, at 2.00 per 10.
    const hybrid = 100_000n + divRound((4960n * 365n - 12_000n * 120n) * 200n, 120n * 10n);
    expect(hybrid).toBe(161_733n);
    expect(charges.HYBRID).toMatchObject({ charge: { amountMinor: hybrid.toString() } });

    // Paid: 25 × 1 200.00 for 365 days, 120 of them in the period; per year × 365 ÷ 120.
    const paid = divRound(25n * 120_000n * 120n, 365n);
    expect(p.paid).toEqual([{ amountMinor: paid.toString(), currency: 'USD' }]);
    expect(p.paidPerYear).toEqual({ amountMinor: divRound(paid * 365n, 120n).toString(), currency: 'USD' });

    // The current model at catalog prices is the baseline; HYBRID is cheapest by far.
    expect(p).toMatchObject({
      recommendation: 'HYBRID',
      recommendedModel: 'HYBRID',
      baselineSource: 'CATALOG',
      baseline: { amountMinor: String(22 * 120_000) },
      annualSaving: { amountMinor: (BigInt(22 * 120_000) - hybrid).toString() },
    });
    expect(fit.summary).toBe(`HYBRID for MF-CAD: ${((22 * 120_000 - 161_733) / 100).toFixed(2)} USD a year less`);
  });

  it('says MODEL_FIT_INSUFFICIENT_USAGE under 90 days of history and MODEL_FIT_NO_PRICES without prices', async () => {
    const young = await createAccount(hub, 'Young Fit');
    await submitOrder(hub, orderInput(young, 'MF-Y', [{ sku: 'MF-CAD', quantity: 5, startDate: day(-100), endDate: day(264) }], { orderDate: day(-100) }));
    await recordUsage(hub, Array.from({ length: 89 }, (_, i) => ({ id: `y-${i}`, source: 'test', deployment: 'CLOUD', accountId: young, meter: 'mf.calls', quantity: 1, occurredAt: `${day(-1 - i)}T09:00:00.000Z`, user: 'y' })));
    const r = await hub.gql(`query($a: ID!) { modelFit(account: $a) { summary } }`, { a: young });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'MODEL_FIT_INSUFFICIENT_USAGE' });
    expect(r.errors?.[0]?.message).toMatch(/Only 89 days of usage history in the window; at least 90 are needed/);
    // The account view still answers, per product.
    const { account } = await hub.ok<{ account: { modelFit: Fit } }>(`query($a: ID!) { account(id: $a) { modelFit { summary products { sku status recommendation } } } }`, { a: young });
    expect(account.modelFit).toEqual({ summary: null, products: [{ sku: 'MF-CAD', status: 'INSUFFICIENT_USAGE', recommendation: 'KEEP' }] });
    // One more day of history makes 90: enough.
    await recordUsage(hub, [{ id: 'y-89', source: 'test', deployment: 'CLOUD', accountId: young, meter: 'mf.calls', quantity: 1, occurredAt: `${day(-90)}T09:00:00.000Z`, user: 'y' }]);
    const ok = await hub.ok<{ modelFit: Fit }>(`query($a: ID!) { modelFit(account: $a) { products { status usageShape { historyDays } } } }`, { a: young });
    expect(ok.modelFit.products[0]).toEqual({ status: 'FITTED', usageShape: { historyDays: 90 } });

    const viewer = await createAccount(hub, 'Viewer Fit');
    await submitOrder(hub, orderInput(viewer, 'MF-V', [{ sku: 'MF-VIEW', quantity: 5, startDate: day(-200), endDate: day(164) }], { orderDate: day(-200) }));
    const np = await hub.gql(`query($a: ID!) { modelFit(account: $a) { summary } }`, { a: viewer });
    expect(np.errors?.[0]?.extensions?.subCode).toBe('MODEL_FIT_NO_PRICES');
    const empty = await createAccount(hub, 'Empty Fit');
    const ne = await hub.gql(`query($a: ID!) { modelFit(account: $a) { summary } }`, { a: empty });
    expect(ne.errors?.[0]?.extensions?.subCode).toBe('MODEL_FIT_NO_PRODUCTS');
  });

  it('takes the model fit to the Salesforce account field through the outbox, and KEEP once the change no longer pays', async () => {
    const conn = await hub.services.sync.connectionByName('salesforce');
    const push = () => hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
    await push();
    // Not analysed yet: the field is left alone.
    expect(emu.get('Account', sfAcme)!.Ehub_Model_Fit__c ?? null).toBeNull();

    await hub.ok(`mutation($a: ID!) { recomputeModelFit(account: $a) { summary } }`, { a: acme });
    await push();
    const expected = `HYBRID for MF-CAD: ${((22 * 120_000 - 161_733) / 100).toFixed(2)} USD a year less`;
    expect(emu.get('Account', sfAcme)).toMatchObject({ Ehub_Model_Fit__c: expected });

    // Only named users priced now, the current model: KEEP reaches the CRM.
    await hub.ok(PRICES, { sku: 'MF-CAD', p: [CATALOG_PRICES[0]] });
    const { recomputeModelFit } = await hub.ok<{ recomputeModelFit: Fit }>(`mutation($a: ID!) { recomputeModelFit(account: $a) { summary products { reason } } }`, { a: acme });
    expect(recomputeModelFit.summary).toBe('KEEP');
    expect(recomputeModelFit.products[0]!.reason).toMatch(/NAMED_USER is already the cheapest/);
    await push();
    expect(emu.get('Account', sfAcme)).toMatchObject({ Ehub_Model_Fit__c: 'KEEP' });

    await hub.ok(PRICES, { sku: 'MF-CAD', p: CATALOG_PRICES });
    // The job analyses every account holding a product: Acme back to HYBRID, Young Fit (analysed
    // but never stored) new; Viewer Fit has no prices: its row has no summary. A second run changes nothing.
    const run = () => hub.services.modelFit.recomputeAll(systemContext(silent, 'test:model-fit'));
    expect(await run()).toEqual({ accounts: 3, fitted: 2, changed: 2 });
    expect(await run()).toEqual({ accounts: 3, fitted: 2, changed: 0 });
    await push();
    expect(emu.get('Account', sfAcme)).toMatchObject({ Ehub_Model_Fit__c: expected });
    const stored: { name: string; summary: string | null }[] = await hub.ds.query(
      `SELECT a.name, f.summary FROM account_model_fit f JOIN account a ON a.id = f.account_id ORDER BY a.name`,
    );
    // Viewer Fit's analysis (no prices) is stored too, for customer360, with no summary: nothing for the CRM.
    expect(stored).toEqual([
      { name: 'Acme Fit', summary: expected },
      { name: 'Viewer Fit', summary: null },
      { name: 'Young Fit', summary: expect.stringMatching(/^(KEEP|[A-Z_]+ for MF-CAD: .*)$/) },
    ]);
  });

  it('shows in customer360, and lets analysts read but not recompute', async () => {
    const { customer360 } = await hub.ok<{ customer360: { modelFit: Fit } }>(`query($a: ID) { customer360(account: $a) { modelFit { summary products { sku recommendation } } } }`, { a: acme });
    expect(customer360.modelFit.products).toEqual([{ sku: 'MF-CAD', recommendation: 'HYBRID' }]);
    // customer360 shows the analysis the job stored (with its instant), equal in every field to a live one.
    const FIT = `accountId windowFrom windowTo summary products { sku status currentModel recommendation reason paidPerYear { amountMinor currency } baseline { amountMinor currency } annualSaving { amountMinor currency }
      usageShape { historyDays distinctUsers peakMonthlyUsers peakConcurrentUsers peakToAverage idleSeatShare burstiness } charges { model rateable explanation unitsRated charge { amountMinor currency } } }`;
    const both = await hub.ok<{ c: { modelFit: Fit & { analysedAt: string | null } }; live: Fit & { analysedAt: string | null } }>(
      `query($a: ID!) { c: customer360(account: $a) { modelFit { analysedAt ${FIT} } } live: modelFit(account: $a) { analysedAt ${FIT} } }`,
      { a: acme },
    );
    const [storedAt] = await hub.ds.query(`SELECT computed_at FROM account_model_fit WHERE account_id = $1`, [acme]);
    expect(both.c.modelFit.analysedAt).toBe(new Date(storedAt.computed_at).toISOString());
    expect(both.live.analysedAt).toBeNull();
    expect({ ...both.c.modelFit, analysedAt: null }).toEqual(both.live);
    // A changed stored row shows (it is what is read), and an old one is analysed again live.
    await hub.ds.query(`UPDATE account_model_fit SET analysis = jsonb_set(analysis, '{summary}', '"STORED"') WHERE account_id = $1`, [acme]);
    const q = `query($a: ID) { customer360(account: $a) { modelFit { summary analysedAt } } }`;
    expect((await hub.ok<{ customer360: { modelFit: { summary: string } } }>(q, { a: acme })).customer360.modelFit.summary).toBe('STORED');
    await hub.ds.query(`UPDATE account_model_fit SET computed_at = now() - interval '37 hours' WHERE account_id = $1`, [acme]);
    const old = (await hub.ok<{ customer360: { modelFit: { summary: string; analysedAt: string | null } } }>(q, { a: acme })).customer360.modelFit;
    expect(old).toEqual({ summary: both.live.summary, analysedAt: null });
    const analyst = await hub.createKey(Role.ANALYST);
    const read = await hub.gql(`query($a: ID!) { modelFit(account: $a) { products { recommendation } } }`, { a: acme }, analyst);
    expect(read.data).toEqual({ modelFit: { products: [{ recommendation: 'HYBRID' }] } });
    const denied = await hub.gql(`mutation($a: ID!) { recomputeModelFit(account: $a) { summary } }`, { a: acme }, analyst);
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const denyPrices = await hub.gql(PRICES, { sku: 'MF-CAD', p: [] }, analyst);
    expect(denyPrices.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
