import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { SyncConnection, SyncTrigger } from '../../src/sync/sync.entities';
import { startTestHub, type TestHub } from '../support/test-hub';
import { seedSkus } from '../support/salesforce';
import { meterIds, postUsage, seedUsageCatalog } from '../usage/usage-support';

/**
 * What goes out to an ERP (ADR 0027), through the CSV connector's outbox files: usage records
 * of closed billing periods and journal entries of closed revenue periods.
 */
const log = pino({ level: 'silent' });
const CREATE = 'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }';
const CUSTOMERS = ['C1', 'C2', 'C3', 'C4'];

/** YYYY-MM of the UTC month `offset` months from now's. */
function monthOf(offset: number, from = new Date()): string {
  return new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + offset, 1)).toISOString().slice(0, 7);
}

/** Major-unit decimal string → minor units (two decimals: USD). */
const minor = (major: string) => BigInt(major.replace('.', '').replace(/^(-?)0+(?=\d)/, '$1'));

describe('ERP outbound: usage records and journal entries (csv connector)', () => {
  let hub: TestHub;
  let dir: string;
  let outDir: string;
  let csvId: string;
  let sfId: string;
  let accountOf: Record<string, string>;
  /** Per account: the u.calls quantities sent, by month. */
  const sent = new Map<string, Map<string, number>>();
  const P = monthOf(-1); // the last closed billing period
  const P1 = monthOf(-2); // the one before
  /** "Now" for the usage-period job: the 3rd of the current month (1 day settle has passed for P). */
  const jobNow = new Date(`${monthOf(0)}-03T00:00:00Z`);
  const seen = new Set<string>();

  const upload = async (object: string, body: string) => {
    const res = await fetch(`${hub.url}/v1/imports/erp/${object}?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'text/csv' },
      body,
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { run: { status: string; failed: number } };
    expect(json.run).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
  };

  const push = async (id = csvId) => {
    const conn = await hub.services.db.manager.findOneByOrFail(SyncConnection, { id });
    return hub.services.sync.pushOnce(systemContext(log, 'test:push'), conn, SyncTrigger.MANUAL);
  };

  /** Rows of the outbox files of `object` written since the last call. */
  const newRows = async (object: string): Promise<Record<string, string>[]> => {
    const files = (await readdir(outDir)).filter((f) => f.startsWith(`${object}-`) && f.endsWith('.csv') && !seen.has(f)).sort();
    const rows: Record<string, string>[] = [];
    for (const f of files) {
      seen.add(f);
      rows.push(...(parse(await readFile(join(outDir, f), 'utf8'), { columns: true }) as Record<string, string>[]));
    }
    return rows;
  };

  const ingest = async (customer: string, month: string, day: number, quantity: number, id: string) => {
    const res = await postUsage(hub, [
      { id, accountId: accountOf[customer], meter: 'u.calls', quantity, occurredAt: `${month}-${String(day).padStart(2, '0')}T12:00:00Z`, deployment: 'CLOUD' },
    ]);
    expect(res.body).toMatchObject({ accepted: 1, rejected: [] });
    const byMonth = sent.get(customer) ?? new Map<string, number>();
    byMonth.set(month, (byMonth.get(month) ?? 0) + quantity);
    sent.set(customer, byMonth);
  };

  /** The U-API entitlement of each customer. */
  const usageEntitlements = async (): Promise<Record<string, string>> => {
    const rows: { customer: string; id: string }[] = await hub.ds.query(
      `SELECT r.external_id AS customer, e.id FROM entitlement e
         JOIN external_ref r ON r.entity_type = 'ACCOUNT' AND r.entity_id = e.account_id AND r.system = 'erp' AND r.object = 'Account'
        WHERE e.sku = 'U-API'`,
    );
    return Object.fromEntries(rows.map((r) => [r.customer, r.id]));
  };

  beforeAll(async () => {
    hub = await startTestHub();
    dir = await mkdtemp(join(tmpdir(), 'ehub-erp-out-'));
    outDir = join(dir, 'out');
    await seedUsageCatalog(hub);
    await seedSkus(hub, ['ERP-SUB']);
    csvId = (
      await hub.ok<{ createSyncConnection: { id: string } }>(CREATE, {
        i: { name: 'erp', type: 'csv', refSystem: 'erp', options: { inboxDir: join(dir, 'in'), outboxDir: outDir, defaultSubsidiary: 'S1' } },
      })
    ).createSyncConnection.id;
    sfId = (
      await hub.ok<{ createSyncConnection: { id: string } }>(CREATE, {
        i: { name: 'crm', type: 'salesforce', enabled: false, options: { auth: 'client_credentials', loginUrl: 'http://127.0.0.1:9', clientId: 'x' }, credentials: { clientSecret: 'y' } },
      })
    ).createSyncConnection.id;

    await upload('accounts', ['customer_id,name', ...CUSTOMERS.map((c) => `${c},Customer ${c}`)].join('\n'));
    const start = `${monthOf(-3)}-01`;
    const end = new Date(Date.UTC(Number(start.slice(0, 4)) + 1, Number(start.slice(5, 7)) - 1, 0)).toISOString().slice(0, 10);
    const lines = ['order_id,line_id,customer_id,order_date,sku,quantity,unit_price,start_date,end_date'];
    CUSTOMERS.forEach((c, i) => {
      lines.push(`SO-${c},SO-${c}-L1,${c},${start},U-API,1,0.00,${start},${end}`);
      lines.push(`SO-${c},SO-${c}-L2,${c},${start},ERP-SUB,${i + 1},1200.00,${start},${end}`);
    });
    await upload('orders', lines.join('\n'));
    const refs: { external_id: string; entity_id: string }[] = await hub.ds.query(`SELECT external_id, entity_id FROM external_ref WHERE system = 'erp' AND object = 'Account'`);
    accountOf = Object.fromEntries(refs.map((r) => [r.external_id, r.entity_id]));
    expect(Object.keys(accountOf).sort()).toEqual(CUSTOMERS);
    // The ERP's subsidiaries (what an ERP pull stores): C3 and C4 in S2, the others in the default S1.
    await hub.ds.query(`UPDATE external_ref SET subsidiary = 'S2' WHERE system = 'erp' AND object = 'Account' AND external_id IN ('C3','C4')`);
    // The same customers are linked to the CRM connection too.
    for (const c of CUSTOMERS) {
      await hub.ds.query(`INSERT INTO external_ref (system, object, external_id, entity_type, entity_id) VALUES ('salesforce', 'Account', $1, 'ACCOUNT', $2)`, [`001${c}`, accountOf[c]]);
    }
  });
  afterAll(async () => {
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes one usage record per usage-billed entitlement and closed period, equal to the hub's rollups", async () => {
    let n = 0;
    for (const [i, c] of CUSTOMERS.entries()) {
      for (let d = 1; d <= 5; d++) await ingest(c, P, d * 5, (i + 1) * 10 + d, `e-${n++}`);
      await ingest(c, P1, 10, 100 + i, `e-${n++}`);
    }
    await push(); // deliver what the ingest and the pull marked (account fields, entitlements)
    await newRows('usage-record');
    const marked = await hub.services.sync.markUsagePeriods(log, jobNow);
    expect(marked[P]).toBe(4);
    expect(marked[P1]).toBe(4);
    await push();
    const rows = await newRows('usage-record');
    const ents = await usageEntitlements();
    // The hub's rollups per entitlement and month, read here independently of the push.
    const rollups: { entitlement_id: string; month: string; sum: string }[] = await hub.ds.query(
      `SELECT u.entitlement_id, to_char(u.bucket AT TIME ZONE 'UTC', 'YYYY-MM') AS month, trim_scale(sum(u.sum))::text AS sum
         FROM usage_rollup u JOIN meter m ON m.id = u.meter_id AND m.key = 'u.calls'
        WHERE u.granularity = 'D' GROUP BY 1, 2`,
    );
    const rollupOf = new Map(rollups.map((r) => [`${r.entitlement_id}|${r.month}`, r.sum]));
    expect(rows).toHaveLength(8);
    for (const c of CUSTOMERS) {
      for (const month of [P, P1]) {
        const key = `ehub-usage:${ents[c]}:${month}`;
        const row = rows.find((r) => r.usageKey === key);
        expect(row).toMatchObject({
          accountExternalId: c,
          orderExternalId: `SO-${c}`,
          subscriptionLineExternalId: `SO-${c}-L1`,
          sku: 'U-API',
          metric: 'u.calls',
          periodStart: `${month}-01`,
          quantity: String(sent.get(c)!.get(month)),
        });
        expect(row!.quantity).toBe(rollupOf.get(`${ents[c]}|${month}`));
        expect(row!.usageDate).toBe(row!.periodEnd);
      }
    }
    // The job again: nothing changed, nothing marked, nothing written.
    expect(await hub.services.sync.markUsagePeriods(log, jobNow)).toEqual({ [P]: 0, [P1]: 0, [monthOf(-3)]: 0 });
    await push();
    expect(await newRows('usage-record')).toHaveLength(0);
  });

  it('sends the same records again after a replay or a crash between send and acknowledge: same keys, same quantities', async () => {
    const first = new Map((await hub.ds.query(`SELECT record_key FROM sync_outbox WHERE object = 'usage-record'`)).map((r: { record_key: string }) => [r.record_key, true]));
    const expected = new Map<string, string>();
    const ents = await usageEntitlements();
    for (const c of CUSTOMERS) for (const m of [P, P1]) expected.set(`ehub-usage:${ents[c]}:${m}`, String(sent.get(c)!.get(m)));
    expect([...first.keys()].sort()).toEqual([...expected.keys()].sort());

    // A replay of every delivered item: written again, identical.
    await hub.services.sync.replayOutbox(systemContext(log, 'test'), csvId, { statuses: ['DONE' as never] });
    await push();
    const replayed = await newRows('usage-record');
    expect(replayed).toHaveLength(8);
    for (const r of replayed) expect(r.quantity).toBe(expected.get(r.usageKey));

    // A crash after the file was written but before the outcome was stored: the claim lapses.
    await hub.ds.query(
      `UPDATE sync_outbox SET status = 'IN_FLIGHT', claimed_version = dirty_version, claimed_until = now() - interval '1 minute', payload_hash = NULL
        WHERE connection_id = $1 AND object = 'usage-record'`,
      [csvId],
    );
    await push();
    const resent = await newRows('usage-record');
    expect(resent).toHaveLength(8);
    for (const r of resent) expect(r.quantity).toBe(expected.get(r.usageKey));
    const [open] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE object = 'usage-record' AND status <> 'DONE'`);
    expect(open.n).toBe(0);
  });

  it('re-marks a sent period when late usage arrives; the record carries the new total, not an increment', async () => {
    await ingest('C2', P, 28, 7, 'late-1');
    const marked = await hub.services.sync.markUsagePeriods(log, jobNow);
    expect(marked).toMatchObject({ [P]: 1, [P1]: 0 });
    await push();
    const rows = await newRows('usage-record');
    const ents = await usageEntitlements();
    expect(rows).toEqual([expect.objectContaining({ usageKey: `ehub-usage:${ents.C2}:${P}`, quantity: String(sent.get('C2')!.get(P)) })]);
  });

  it('writes one balanced journal entry per subsidiary and currency of a closed period, equal to the journal CSV export', async () => {
    await hub.ok('mutation($m: String!) { closePeriod(month: $m) { month } }', { m: P });
    const keys: { record_key: string }[] = await hub.ds.query(`SELECT record_key FROM sync_outbox WHERE object = 'journal-entry' AND connection_id = $1 ORDER BY 1`, [csvId]);
    expect(keys.map((k) => k.record_key)).toEqual([`ehub-journal:${P}:S1:USD`, `ehub-journal:${P}:S2:USD`]);
    await push();
    const lines = await newRows('journal-entry');
    expect(lines.length).toBeGreaterThan(0);

    const res = await fetch(`${hub.url}/v1/exports/journal-entries.csv?from=${P}&to=${P}`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
    expect(res.status).toBe(200);
    const exported = parse(await res.text(), { columns: true }) as Record<string, string>[];
    expect(exported.length).toBeGreaterThan(0);
    const subsidiaryOf = (accountId: string) => (accountId === accountOf.C3 || accountId === accountOf.C4 ? 'S2' : 'S1');

    for (const sub of ['S1', 'S2']) {
      const entry = lines.filter((l) => l.entryKey === `ehub-journal:${P}:${sub}:USD`);
      expect(entry.length).toBeGreaterThan(0);
      for (const l of entry) {
        expect(l).toMatchObject({ period: P, subsidiary: sub, currency: 'USD', memo: `Entitlement Hub revenue journal ${P}` });
        expect(l.tranDate.slice(0, 7)).toBe(P);
        expect([minor(l.debit!) > 0n, minor(l.credit!) > 0n].filter(Boolean)).toHaveLength(1);
      }
      const debits = entry.reduce((s, l) => s + minor(l.debit!), 0n);
      const credits = entry.reduce((s, l) => s + minor(l.credit!), 0n);
      expect(debits).toBe(credits);
      expect(debits).toBeGreaterThan(0n);

      // The export's lines of that subsidiary's accounts, summed per GL account.
      const want = new Map<string, { debit: bigint; credit: bigint }>();
      for (const r of exported.filter((x) => subsidiaryOf(x.account_id!) === sub && x.currency === 'USD')) {
        const t = want.get(r.gl_account_code!) ?? { debit: 0n, credit: 0n };
        t.debit += BigInt(r.debit_minor!);
        t.credit += BigInt(r.credit_minor!);
        want.set(r.gl_account_code!, t);
      }
      const got = new Map<string, { debit: bigint; credit: bigint }>();
      for (const l of entry) {
        const t = got.get(l.account!) ?? { debit: 0n, credit: 0n };
        t.debit += minor(l.debit!);
        t.credit += minor(l.credit!);
        got.set(l.account!, t);
      }
      expect(got).toEqual(want);
    }
    // Both entries together hold every line of the export.
    const allDebits = exported.reduce((s, r) => s + BigInt(r.debit_minor!), 0n);
    expect(lines.reduce((s, l) => s + minor(l.debit!), 0n)).toBe(allDebits);

    // Closing it again changes nothing; a repeated push writes nothing new.
    await hub.ok('mutation($m: String!) { closePeriod(month: $m) { month } }', { m: P });
    await push();
    expect(await newRows('journal-entry')).toHaveLength(0);
  });

  it('gives a CRM connection neither usage records nor journal entries, though it gets the account fields', async () => {
    const rows: { object: string; n: number }[] = await hub.ds.query(
      `SELECT object, count(*)::int AS n FROM sync_outbox WHERE connection_id = $1 GROUP BY object ORDER BY object`,
      [sfId],
    );
    const byObject = Object.fromEntries(rows.map((r) => [r.object, r.n]));
    expect(byObject['account-fields']).toBe(CUSTOMERS.length);
    expect(byObject['usage-record']).toBeUndefined();
    expect(byObject['journal-entry']).toBeUndefined();
    // Ids used by the meter helper exist (the catalog was seeded once).
    expect(Object.keys(await meterIds(hub))).toContain('u.calls');
  });
});
