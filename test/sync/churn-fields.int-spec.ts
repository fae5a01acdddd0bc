import { dropProxyEnv, createSalesforceConnection, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { FEATURES } from '../../src/churn/churn.features';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { createAccount, day, orderInput, seedCatalog, submitOrder } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';

const silent = pino({ level: 'silent' });
const HEALTH_RISK: Record<string, string> = { GREEN: 'LOW', YELLOW: 'MEDIUM', RED: 'HIGH' };

/**
 * The churn figures in the CRM's account fields (docs/churn.md): without a model, the risk
 * band of the health score and no probability; with a model, its band and probability and
 * the forecast renewing ARR, queued by the forecast snapshot that moved them.
 */
describe('churn risk, probability and forecast ARR in the Salesforce account fields', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let acme: string;
  let sfAcme: string;
  let healthRisk: string;

  const push = async () => {
    const conn = await hub.services.sync.connectionByName('salesforce');
    await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
  };
  const accountFieldsDue = async (): Promise<number> =>
    (await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE object = 'account-fields' AND account_id = $1 AND status = 'PENDING'`, [acme]))[0].n;

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5' });
    emu = await startEmulator();
    await seedCatalog(hub);
    sfAcme = emu.insert('Account', { Name: 'Acme Churn' });
    acme = await createAccount(hub, 'Acme Churn', sfAcme);
    await createSalesforceConnection(hub, emu);
    // 10 seats at 120.00 a year for 365 days: ARR 1,200.00 USD, an open term ending in 300 days.
    await submitOrder(hub, orderInput(acme, 'CH-1', [{ sku: 'SEAT', quantity: 10, unitPrice: 12000, startDate: day(-65), endDate: day(299) }]));
  }, 60_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('without a model: the band of the health score, no probability, no forecast', async () => {
    const { recomputeHealth } = await hub.ok<{ recomputeHealth: { band: string } }>(`mutation($a: ID!) { recomputeHealth(accountId: $a) { band } }`, { a: acme });
    healthRisk = HEALTH_RISK[recomputeHealth.band]!;
    await push();
    const acc = emu.get('Account', sfAcme)!;
    expect({ risk: acc.Ehub_Churn_Risk__c, probability: acc.Ehub_Churn_Probability__c ?? null, forecast: acc.Ehub_Forecast_Arr__c ?? null }).toEqual({
      risk: healthRisk,
      probability: null,
      forecast: null,
    });
  });

  it('with a model: its band and probability, and Σ ARR × P(renew) of the forecast; the snapshot queues the account', async () => {
    // A model whose slopes are all 0: P(churn) = σ(a × intercept + b) = σ(ln(p ÷ (1 − p))) = p
    // for every account, whatever its features. p is chosen in a band the health score did not give.
    const p = healthRisk === 'HIGH' ? 0.15 : 0.6;
    const band = p < 0.2 ? 'LOW' : p < 0.5 ? 'MEDIUM' : 'HIGH';
    expect(band).not.toBe(healthRisk);
    const zeros = FEATURES.map(() => 0);
    await hub.ds.query(
      `INSERT INTO churn_model (version, as_of, window_from, window_to, features, means, sds, coefficients, intercept, platt_a, platt_b, lambda, iterations, metrics)
       VALUES (1, $1, $1, $1, $2, $3, $4, $3, $5, 1, 0, 1, 1, '{}')`,
      [day(0), [...FEATURES], zeros, FEATURES.map(() => 1), Math.log(p / (1 - p))],
    );
    const { account } = await hub.ok<{ account: { churnRisk: { probability: number; band: string; source: string } } }>(
      `query($a: ID!) { account(id: $a) { churnRisk { probability band source } } }`,
      { a: acme },
    );
    expect(account.churnRisk.source).toBe('MODEL');
    expect(account.churnRisk.probability).toBeCloseTo(p, 12);

    expect(await accountFieldsDue()).toBe(0);
    await hub.ok(`mutation { snapshotArrForecast { snapshotId } }`);
    // The first snapshot puts the account in the forecast: its fields are due again.
    expect(await accountFieldsDue()).toBe(1);
    await push();
    const acc = emu.get('Account', sfAcme)!;
    // 1,200.00 × (1 − p), in USD.
    const forecast = Math.round(120000 * (1 - p)) / 100;
    expect({ risk: acc.Ehub_Churn_Risk__c, probability: acc.Ehub_Churn_Probability__c, forecast: Number(acc.Ehub_Forecast_Arr__c) }).toEqual({
      risk: band,
      probability: p,
      forecast,
    });

    // A second snapshot with the same figures queues nothing.
    await hub.ok(`mutation { snapshotArrForecast { snapshotId } }`);
    expect(await accountFieldsDue()).toBe(0);
  });
});
