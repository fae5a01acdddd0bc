for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { startNetSuiteEmulator } from '../../connectors/netsuite/emulator';
import { systemContext } from '../../src/common/context';
import { ReceivableKind } from '../../src/receivables/receivable.types';
import type { ReceivableWrite } from '../../src/receivables/receivable.service';
import { SyncTrigger } from '../../src/sync/sync.entities';
import type { Scenario } from '../support/types';
import { oneRunFigures } from '../support/batch';
import { fmt } from '../support/report';

const TRANSACTIONS = Number(process.env.BENCH_NS_TRANSACTIONS ?? 120_000);
const CUSTOMERS = 400;
/** Documents written one statement each in the second baseline (the path before issue 12's batch upsert). */
const ONE_BY_ONE = Math.min(TRANSACTIONS, 10_000);

/**
 * Issue 12's large NetSuite pull: 120,000 invoices, credit memos and payments
 * (BENCH_NS_TRANSACTIONS) over 400 customers, pulled by one `runSync` of `receivables` from the
 * emulator over HTTP: 120 keyset SuiteQL queries of 1,000 rows, past the 100,000-row offset
 * ceiling, each page upserted in one statement. Checked: exactly N distinct receivables. The
 * emulator's own SuiteQL time (SQLite in WebAssembly, a COUNT for `totalResults` per page) is
 * reported apart. Baselines in the same run: the same documents written straight through
 * `ReceivableService.upsertManyFromSource` in pages of 1,000 (the database's cost), and 10,000
 * of them one statement each (`upsertFromSource`, the path pulls took before).
 */
export const netsuiteReceivablesPull: Scenario = {
  name: 'netsuite-receivables-pull',
  description: `pull of ${fmt(TRANSACTIONS)} NetSuite transactions (receivables) past the 100,000-row SuiteQL offset ceiling`,
  async run(ctx) {
    const { services } = ctx.hub;
    const sys = systemContext(pino({ level: 'warn' }), 'bench:ns-pull');
    const emu = await startNetSuiteEmulator();
    try {
      const customers = emu.seed.customers(Array.from({ length: CUSTOMERS }, (_, i) => ({ companyName: `NS bench ${i}`, currency: 'USD' })));
      const base = Date.parse('2026-01-05T08:00:00Z');
      const kinds = ['CustInvc', 'CustInvc', 'CustInvc', 'CustCred', 'CustPymt'] as const;
      const s0 = performance.now();
      emu.seed.transactions(
        Array.from({ length: TRANSACTIONS }, (_, i) => {
          const cents = 100 + ((i * 7919) % 900_000);
          const type = kinds[i % kinds.length]!;
          const open = ((i % 4 === 0 ? 0 : Math.floor(cents / (1 + (i % 3)))) / 100).toFixed(2);
          return {
            type,
            entity: customers[i % CUSTOMERS]!,
            tranDate: '2026-01-02',
            dueDate: type === 'CustInvc' ? '2026-02-01' : null,
            total: (cents / 100).toFixed(2),
            ...(type === 'CustInvc' ? { amountRemaining: open } : { unapplied: open }),
            lastModified: new Date(base + ((i * 17) % 40) * 1000).toISOString(),
          };
        }),
      );
      console.error(`  seeded ${fmt(TRANSACTIONS)} transactions into the emulator in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
      const m = emu.credentials.m2m!;
      const conn = await services.sync.createConnection(sys, {
        name: 'bench-ns-pull',
        type: 'netsuite',
        options: { accountId: emu.accountId, baseUrl: emu.url, authMode: 'm2m' },
        credentials: { clientId: m.clientId, certificateId: m.certificateId, privateKey: m.privateKeyPem },
        enabled: false,
        pullEnabled: true,
        pushEnabled: false,
        renewalDays: 90,
        maxAttempts: 8,
      } as never);
      await services.sync.runSync(sys, conn.id, { push: false, objects: ['accounts'], trigger: SyncTrigger.MANUAL });
      emu.resetStats();

      const elu = performance.eventLoopUtilization();
      const started = performance.now();
      const [run] = await services.sync.runSync(sys, conn.id, { push: false, objects: ['receivables'], trigger: SyncTrigger.MANUAL });
      const seconds = (performance.now() - started) / 1000;
      const busy = performance.eventLoopUtilization(elu);
      const q = emu.stats.suiteql;
      const [{ n, ids }] = await services.db.ds.query(`SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS ids FROM receivable WHERE connection_id = $1`, [conn.id]);
      console.error(
        `  sync: ${fmt(run!.read)} transactions in ${seconds.toFixed(1)} s (${run!.apiCalls} API calls; ${q.queries} SuiteQL queries, ${fmt(q.rows)} rows, ` +
          `largest totalResults ${fmt(q.maxTotalResults)}, highest offset ${q.maxOffset}, offset refusals ${q.offsetRefusals}; emulator SuiteQL time ${(q.ms / 1000).toFixed(1)} s)`,
      );
      if (run!.status !== 'SUCCEEDED' || run!.created !== TRANSACTIONS || n !== TRANSACTIONS || ids !== TRANSACTIONS) {
        throw new Error(`expected ${TRANSACTIONS} receivables, got run ${run!.status} created ${run!.created}, ${n} rows, ${ids} ids`);
      }

      // Baselines: the same documents straight into the receivables service, on a second connection.
      const direct = await services.sync.createConnection(sys, {
        name: 'bench-ns-direct',
        type: 'netsuite',
        options: { accountId: emu.accountId, baseUrl: emu.url, authMode: 'm2m' },
        credentials: { clientId: m.clientId, certificateId: m.certificateId, privateKey: m.privateKeyPem },
        enabled: false,
        pullEnabled: false,
        pushEnabled: false,
        renewalDays: 90,
        maxAttempts: 8,
      } as never);
      const rows: { external_id: string; account_id: string; kind: ReceivableKind; number: string | null; doc_date: string; due_date: string | null; currency: string; amount_minor: string; open_minor: string; status: string | null; modified_at: Date }[] =
        await services.db.ds.query(
          `SELECT external_id, account_id, kind, number, doc_date::text, due_date::text, currency, amount_minor::text, open_minor::text, status, modified_at FROM receivable WHERE connection_id = $1 ORDER BY modified_at, external_id`,
          [conn.id],
        );
      const writes: ReceivableWrite[] = rows.map((r) => ({
        connectionId: direct.id,
        externalId: r.external_id,
        accountId: r.account_id,
        kind: r.kind,
        number: r.number,
        date: r.doc_date,
        dueDate: r.due_date,
        currency: r.currency,
        amountMinor: r.amount_minor,
        openMinor: r.open_minor,
        status: r.status,
        modifiedAt: r.modified_at,
        deleted: false,
      }));
      const b0 = performance.now();
      for (let i = 0; i < writes.length; i += 1000) await services.receivables.upsertManyFromSource(writes.slice(i, i + 1000));
      const batched = (performance.now() - b0) / 1000;
      const o0 = performance.now();
      for (const w of writes.slice(0, ONE_BY_ONE)) await services.receivables.upsertFromSource({ ...w, externalId: `one-${w.externalId}` });
      const oneByOne = (performance.now() - o0) / 1000;
      console.error(
        `  baseline: upsertManyFromSource directly, pages of 1,000: ${fmt(TRANSACTIONS)} in ${batched.toFixed(1)} s (${fmt(Math.round(TRANSACTIONS / batched))}/s); ` +
          `one statement each (upsertFromSource): ${fmt(ONE_BY_ONE)} in ${oneByOne.toFixed(1)} s (${fmt(Math.round(ONE_BY_ONE / oneByOne))}/s)`,
      );
      return oneRunFigures(TRANSACTIONS, seconds, busy.utilization, {
        value: Math.round(TRANSACTIONS / seconds),
        unit:
          `transactions/s through the engine (${run!.apiCalls} API calls, emulator SuiteQL ${(q.ms / 1000).toFixed(1)} s of ${seconds.toFixed(1)} s); ` +
          `direct batch upsert ${fmt(Math.round(TRANSACTIONS / batched))}/s, one by one ${fmt(Math.round(ONE_BY_ONE / oneByOne))}/s`,
      });
    } finally {
      await emu.close();
    }
  },
};
