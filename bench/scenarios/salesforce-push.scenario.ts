for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { startSalesforceEmulator } from '../../connectors/salesforce/emulator';
import { systemContext } from '../../src/common/context';
import { markSyncDirty } from '../../src/sync/sync-outbox';
import { SyncTrigger } from '../../src/sync/sync.entities';
import type { Scenario } from '../support/types';
import { oneRunFigures } from '../support/batch';
import { fmt } from '../support/report';

const ACCOUNTS = Number(process.env.BENCH_SF_ACCOUNTS ?? 100_000);
const CLIENT = { clientId: 'bench-hub', clientSecret: 'bench-secret-123' };

/**
 * Pushing the synced fields of 100,000 accounts (BENCH_SF_ACCOUNTS) to the Salesforce
 * emulator: every account linked to an emulator Account and holding one live subscription
 * entitlement (seeded with SQL), all marked dirty through `markSyncDirty`, then one push run
 * (`pushOnce`: claim, compute payloads, connector → Bulk API 2.0, results written back).
 * Measured: the wall time of the run and the API calls the emulator counted; every Account
 * is then checked in the emulator. Baseline in the same run: the same 100,000 updates sent
 * by hand as one bare Bulk API 2.0 job with fetch (token, create, upload, close, poll,
 * results), against the same emulator. Targets: ≤ 100 API calls and ≤ 60 s.
 */
export const salesforcePush: Scenario = {
  name: 'salesforce-push',
  description: `push the synced fields of ${fmt(ACCOUNTS)} accounts to the Salesforce emulator (Bulk API 2.0), API calls counted by the emulator`,
  async run(ctx) {
    const { ds } = ctx.hub.services.db;
    const log = pino({ level: 'warn' });
    const emu = await startSalesforceEmulator({ clients: [CLIENT], bulkProcessingDelayMs: 0 });
    try {
      const t0 = performance.now();
      const sfIds: string[] = [];
      for (let i = 0; i < ACCOUNTS; i++) sfIds.push(emu.insert('Account', { Name: `Bench customer ${i}` }));
      await seedHub(ds, sfIds);
      const conn = await ctx.hub.services.sync.createConnection(systemContext(log, 'bench'), {
        name: 'bench-salesforce',
        type: 'salesforce',
        options: { auth: 'client_credentials', loginUrl: emu.url, clientId: CLIENT.clientId, bulkPollIntervalMs: 200 },
        credentials: { clientSecret: CLIENT.clientSecret },
        enabled: false,
        pullEnabled: false,
        pushEnabled: true,
        refSystem: 'salesforce-bench',
        renewalDays: 90,
        maxAttempts: 8,
      });
      const ids: string[] = (await ds.query(`SELECT id FROM account WHERE name LIKE 'SF bench %' ORDER BY id`)).map((r: { id: string }) => r.id);
      const tMark = performance.now();
      for (let i = 0; i < ids.length; i += 10_000) {
        await ctx.hub.services.db.tx(systemContext(log, 'bench'), (tx) => markSyncDirty(tx.manager, { accountIds: ids.slice(i, i + 10_000) }));
      }
      const markMs = performance.now() - tMark;
      await ds.query('VACUUM ANALYZE sync_outbox');
      console.error(`  seeded ${fmt(ACCOUNTS)} accounts with entitlements and outbox items in ${((performance.now() - t0) / 1000).toFixed(1)} s (markSyncDirty: ${(markMs / 1000).toFixed(1)} s)`);

      emu.resetStats();
      const elu = performance.eventLoopUtilization();
      const started = performance.now();
      const run = await ctx.hub.services.sync.pushOnce(systemContext(log, 'bench:push'), conn, SyncTrigger.MANUAL);
      const seconds = (performance.now() - started) / 1000;
      const busy = performance.eventLoopUtilization(elu);
      const apiCalls = emu.stats.apiCalls;
      if (!run) throw new Error('the push found nothing due');
      const wrong = emu.records('Account').filter((a) => a.Ehub_Entitlement_Status__c !== 'ACTIVE' || Number(a.Ehub_ARR__c) !== 1200).length;
      const [open] = await ds.query(`SELECT count(*) FILTER (WHERE status <> 'DONE')::int AS open FROM sync_outbox WHERE connection_id = $1`, [conn.id]);
      console.error(
        `  hub push: ${fmt(run.read)} items in ${seconds.toFixed(2)} s, ${apiCalls} API calls (run: ${run.apiCalls}, ${JSON.stringify(emu.stats.byEndpoint)}); ` +
          `${run.failed} failed, ${open.open} not done, ${wrong} accounts wrong in the emulator`,
      );
      if (run.failed || open.open || wrong) throw new Error(`push incomplete: ${run.failed} failed, ${open.open} not done, ${wrong} wrong`);

      // Baseline: the same updates as one hand-made Bulk API 2.0 job.
      emu.resetStats();
      const b0 = performance.now();
      await bareBulkUpdate(emu.url, sfIds);
      const bareSeconds = (performance.now() - b0) / 1000;
      console.error(`  baseline (one bare Bulk API 2.0 job with fetch): ${bareSeconds.toFixed(2)} s, ${emu.stats.apiCalls} API calls; hub/bare = ${(seconds / bareSeconds).toFixed(1)}×`);

      return oneRunFigures(ACCOUNTS, seconds, busy.utilization, {
          value: Math.round(seconds * 100) / 100,
          unit: `s for ${fmt(ACCOUNTS)} accounts with ${apiCalls} API calls (targets ≤ 60 s, ≤ 100 calls); bare Bulk job ${bareSeconds.toFixed(2)} s (${(seconds / bareSeconds).toFixed(1)}×)`,
        }, wrong);
    } finally {
      await emu.close();
    }
  },
};

/** 100,000 accounts, each linked to its emulator Account and holding one live subscription at 1,200/year. */
async function seedHub(ds: import('typeorm').DataSource, sfIds: string[]): Promise<void> {
  const [{ id: productId }] = await ds.query(
    `INSERT INTO product (sku, name, kind, currency, list_price_minor, ssp_minor, default_model)
     VALUES ('BENCH-SF', 'Sync bench subscription', 'SAAS', 'USD', 120000, 120000, 'SUBSCRIPTION') RETURNING id`,
  );
  for (let i = 0; i < sfIds.length; i += 20_000) {
    const chunk = sfIds.slice(i, i + 20_000);
    await ds.query(
      `WITH a AS (
         INSERT INTO account (name, currency) SELECT 'SF bench ' || sf, 'USD' FROM unnest($1::text[]) sf RETURNING id, substr(name, 10) AS sf
       ), r AS (
         INSERT INTO external_ref (system, object, external_id, entity_type, entity_id) SELECT 'salesforce-bench', 'Account', sf, 'ACCOUNT', id FROM a
       ), o AS (
         INSERT INTO sales_order (account_id, source, external_id, revision, order_date, currency)
         SELECT id, 'bench-sf', sf, 1, current_date - 30, 'USD' FROM a RETURNING id, account_id
       ), l AS (
         INSERT INTO order_line (order_id, account_id, line_no, product_id, sku, action, model, quantity, unit_price_minor, currency, start_date, end_date, revision)
         SELECT o.id, o.account_id, 1, $2::uuid, 'BENCH-SF', 'NEW', 'SUBSCRIPTION', 1, 120000, 'USD', current_date - 30, current_date + 334, 1 FROM o
         RETURNING id, order_id, account_id
       ), e AS (
         INSERT INTO entitlement (account_id, product_id, sku, order_id, order_line_id, model, quantity, start_date, end_date, starts_at, ends_at, grace_ends_at)
         SELECT l.account_id, $2::uuid, 'BENCH-SF', l.order_id, l.id, 'SUBSCRIPTION', 1, current_date - 30, current_date + 334,
                (current_date - 30)::timestamptz, (current_date + 335)::timestamptz, (current_date + 335)::timestamptz FROM l
         RETURNING id, account_id, order_line_id
       )
       INSERT INTO entitlement_event (entitlement_id, account_id, kind, order_line_id) SELECT id, account_id, 'GRANTED', order_line_id FROM e`,
      [chunk, productId],
    );
  }
  for (const t of ['account', 'external_ref', 'sales_order', 'order_line', 'entitlement', 'entitlement_event']) await ds.query(`VACUUM ANALYZE ${t}`);
}

/** One Bulk API 2.0 update job of the same fields, by hand: the least any client could do. */
async function bareBulkUpdate(base: string, ids: string[]): Promise<void> {
  const token = (await (
    await fetch(`${base}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }),
    })
  ).json()) as { access_token: string; instance_url: string };
  const api = `${token.instance_url}/services/data/v62.0/jobs/ingest`;
  const auth = { authorization: `Bearer ${token.access_token}` };
  const job = (await (await fetch(api, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ object: 'Account', operation: 'update', contentType: 'CSV', lineEnding: 'LF' }) })).json()) as { id: string };
  const csv = ['Id,Ehub_Entitlement_Status__c,Ehub_ARR__c,Ehub_Next_Renewal_Date__c,Ehub_Overuse__c', ...ids.map((id) => `${id},ACTIVE,1200.00,2027-10-29,false`)].join('\n');
  await fetch(`${api}/${job.id}/batches`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/csv' }, body: csv });
  await fetch(`${api}/${job.id}`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ state: 'UploadComplete' }) });
  for (;;) {
    const info = (await (await fetch(`${api}/${job.id}`, { headers: auth })).json()) as { state: string };
    if (info.state === 'JobComplete') break;
    if (info.state === 'Failed' || info.state === 'Aborted') throw new Error(`bare bulk job ${info.state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await (await fetch(`${api}/${job.id}/successfulResults/`, { headers: auth })).text();
  await (await fetch(`${api}/${job.id}/failedResults/`, { headers: auth })).text();
}
