import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestHub, type TestHub } from '../support/test-hub';
import { seedSkus } from '../support/salesforce';

/**
 * The hub side of what comes in from an ERP (ADR 0026), driven through CSV connections over
 * HTTP against a real PostgreSQL: a `crm` connection whose reference system is `salesforce`
 * stands for the CRM, `erp` (deal source CRM) and `erp-first` (deal source ERP) for ERPs
 * whose rows carry the CRM's ids.
 */

const CREATE = 'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id dealSource } }';
const AS_OF = '2026-06-30';

interface Run {
  object: string;
  status: string;
  read: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  errors: { record: string | null; row: number | null; column: string | null; code: string; message: string }[];
}

interface Doc {
  id: string;
  kind: 'invoice' | 'credit memo' | 'payment';
  customer: string;
  date: string;
  due: string | null;
  currency: string;
  amount: number; // minor units
  open: number;
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const day = (base: string, offset: number) => new Date(Date.parse(`${base}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);
const major = (minor: number) => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
const daysBetween = (a: string, b: string) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);

function generateDocs(customers: string[], count: number, seed: number): Doc[] {
  const rnd = prng(seed);
  const docs: Doc[] = [];
  for (let i = 1; i <= count; i++) {
    const r = rnd();
    const kind = r < 0.6 ? 'invoice' : r < 0.75 ? 'credit memo' : 'payment';
    const customer = customers[Math.floor(rnd() * customers.length)]!;
    const date = day(AS_OF, -Math.floor(rnd() * 200));
    const amount = 100 + Math.floor(rnd() * 5_000_000);
    const open = rnd() < 0.4 ? 0 : rnd() < 0.5 ? amount : Math.floor(rnd() * amount);
    const due = kind === 'invoice' ? day(date, [15, 30, 45, 60][Math.floor(rnd() * 4)]!) : null;
    docs.push({ id: `D-${i}`, kind, customer, date, due, currency: rnd() < 0.8 ? 'USD' : 'EUR', amount, open });
  }
  return docs;
}

/** The expected summary, computed here from the documents, independently of the hub's SQL. */
function expectedSummaries(docs: Doc[]) {
  const out = new Map<string, Record<string, unknown>>();
  const keys = [...new Set(docs.map((d) => `${d.customer}|${d.currency}`))];
  for (const key of keys) {
    const [customer, currency] = key.split('|') as [string, string];
    const mine = docs.filter((d) => d.customer === customer && d.currency === currency);
    const invoices = mine.filter((d) => d.kind === 'invoice');
    const overdue = invoices.filter((d) => d.open > 0 && d.due! < AS_OF);
    const overdueSum = overdue.reduce((s, d) => s + d.open, 0);
    const weightedNum = overdue.reduce((s, d) => s + d.open * daysBetween(d.due!, AS_OF), 0);
    const payments = mine.filter((d) => d.kind === 'payment');
    const lastDate = payments.map((d) => d.date).sort().at(-1) ?? null;
    out.set(key, {
      currency,
      openBalance: { amountMinor: String(invoices.reduce((s, d) => s + d.open, 0) - mine.filter((d) => d.kind !== 'invoice').reduce((s, d) => s + d.open, 0)) },
      overdue: { amountMinor: String(overdueSum) },
      maxOverdueDays: overdue.reduce((m, d) => Math.max(m, daysBetween(d.due!, AS_OF)), 0),
      weightedOverdueDays: overdueSum ? Math.round((weightedNum / overdueSum) * 10) / 10 : 0,
      lastPaymentDate: lastDate,
      lastPayment: lastDate ? { amountMinor: String(payments.filter((d) => d.date === lastDate).reduce((s, d) => s + d.amount, 0)) } : null,
      invoiceCount: invoices.length,
      openInvoiceCount: invoices.filter((d) => d.open > 0).length,
      overdueInvoiceCount: overdue.length,
      creditMemoCount: mine.filter((d) => d.kind === 'credit memo').length,
      paymentCount: payments.length,
    });
  }
  return out;
}

const SUMMARY = `currency openBalance { amountMinor } overdue { amountMinor } maxOverdueDays weightedOverdueDays lastPaymentDate lastPayment { amountMinor }
  invoiceCount openInvoiceCount overdueInvoiceCount creditMemoCount paymentCount`;

describe('ERP inbound: cross-system account links, one source per deal, receivables', () => {
  let hub: TestHub;
  let dir: string;

  const upload = async (connection: string, object: string, rows: string[]): Promise<Run> => {
    const res = await fetch(`${hub.url}/v1/imports/${connection}/${object}?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'text/csv' },
      body: rows.join('\n') + '\n',
    });
    const body = (await res.json()) as { run?: Run | null };
    expect(res.status).toBe(200);
    return body.run!;
  };
  const connId = async (name: string) => (await hub.ds.query('SELECT id FROM sync_connection WHERE name = $1', [name]))[0].id as string;
  const runSync = async (name: string, objects: string[], full = false): Promise<Run[]> =>
    (
      await hub.ok<{ runSync: Run[] }>(
        `mutation($c: ID!, $o: [String!], $f: Boolean!) { runSync(connectionId: $c, objects: $o, full: $f, push: false) { object status read created updated unchanged failed errors { record row column code message } } }`,
        { c: await connId(name), o: objects, f: full },
      )
    ).runSync;
  const accountOf = async (system: string, externalId: string): Promise<string | null> =>
    (await hub.ds.query(`SELECT entity_id FROM external_ref WHERE system = $1 AND object = 'Account' AND external_id = $2 AND entity_type = 'ACCOUNT'`, [system, externalId]))[0]?.entity_id ?? null;

  beforeAll(async () => {
    hub = await startTestHub();
    dir = await mkdtemp(join(tmpdir(), 'ehub-erp-it-'));
    await seedSkus(hub, ['ERP-A']);
    const make = (name: string, extra: Record<string, unknown>) => hub.ok(CREATE, { i: { name, type: 'csv', options: { inboxDir: join(dir, name) }, pushEnabled: false, ...extra } });
    await make('crm', { refSystem: 'salesforce', orderSource: 'salesforce' });
    expect(await make('erp', { refSystem: 'erp', orderSource: 'erp' })).toEqual({ createSyncConnection: { id: expect.any(String), dealSource: 'CRM' } });
    await make('erp-first', { refSystem: 'erp2', orderSource: 'erp2', dealSource: 'ERP' });
  });
  afterAll(async () => {
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('links an ERP customer carrying the CRM id to the CRM-linked hub account instead of creating a second one', async () => {
    const crm = await upload('crm', 'accounts', ['customer_id,name,domain', ...[1, 2, 3, 4, 5].map((i) => `C${i},Customer ${i},c${i}.example`)]);
    expect(crm).toMatchObject({ created: 5, failed: 0 });
    const before = (await hub.ds.query('SELECT count(*)::int AS n FROM account'))[0].n;
    const erp = await upload('erp', 'accounts', ['customer_id,name,crm_account_id', ...[1, 2, 3, 4, 5].map((i) => `N${i},CUSTOMER ${i} LTD,C${i}`), 'N6,Only In The ERP,']);
    expect(erp).toMatchObject({ status: 'SUCCEEDED', read: 6, created: 1, updated: 5, failed: 0 });
    expect((await hub.ds.query('SELECT count(*)::int AS n FROM account'))[0].n).toBe(before + 1);
    for (const i of [1, 2, 3, 4, 5]) expect(await accountOf('erp', `N${i}`)).toBe(await accountOf('salesforce', `C${i}`));
    // The CRM record keeps the name: the ERP link changes nothing else.
    expect((await hub.ds.query('SELECT name FROM account WHERE id = $1', [await accountOf('salesforce', 'C1')]))[0].name).toBe('Customer 1');

    // Again: nothing changes.
    expect(await runSync('erp', ['accounts'], true)).toEqual([expect.objectContaining({ read: 6, created: 0, updated: 0, unchanged: 6, failed: 0 })]);
    // A link contradicting the account the ERP customer is already linked to: an error, nothing changed.
    const conflict = await upload('erp', 'accounts', ['customer_id,name,crm_account_id', 'N1,Customer 1,C2']);
    expect(conflict).toMatchObject({ status: 'PARTIAL', failed: 1, errors: [expect.objectContaining({ record: 'N1', code: 'ACCOUNT_LINK_CONFLICT' })] });
    expect(await accountOf('erp', 'N1')).toBe(await accountOf('salesforce', 'C1'));
  });

  describe('one source per deal', () => {
    const order = (id: string, customer: string, crmDeal = '') => ['order_id,customer_id,order_date,sku,quantity,unit_price,end_date,crm_deal_id', `${id},${customer},2026-01-01,ERP-A,3,100.00,2026-12-31,${crmDeal}`];
    const crmOrder = (id: string, customer: string) => ['order_id,customer_id,order_date,sku,quantity,unit_price,end_date', `${id},${customer},2026-01-01,ERP-A,3,100.00,2026-12-31`];
    const granted = async (pairs: [string, string][]) => {
      const rows: { n: number }[] = await hub.ds.query(
        `SELECT count(*)::int AS n FROM sales_order o JOIN order_line l ON l.order_id = o.id
          WHERE (o.source, o.external_id) IN (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(s text, e text))`,
        [JSON.stringify(pairs.map(([s, e]) => ({ s, e })))],
      );
      return rows[0]!.n;
    };
    const findings = async (dealKeyPart: string) =>
      hub.ds.query(`SELECT account_id, status, leakage_minor::text AS leakage, details FROM compliance_finding WHERE kind = 'DUPLICATE_SOURCE' AND feature_key LIKE $1`, [`%${dealKeyPart}%`]);
    const entitlementsOf = async (accountId: string) => (await hub.ds.query(`SELECT count(*)::int AS n FROM entitlement WHERE account_id = $1 AND status <> 'CANCELLED'`, [accountId]))[0].n as number;

    it('CRM deal first, then the ERP order booked from it: granted once, one finding', async () => {
      expect(await upload('crm', 'orders', crmOrder('OPP-1', 'C1'))).toMatchObject({ created: 1, failed: 0 });
      const account = (await accountOf('salesforce', 'C1'))!;
      const ents = await entitlementsOf(account);
      expect(await upload('erp', 'orders', order('SO-1', 'N1', 'OPP-1'))).toMatchObject({ created: 0, unchanged: 1, failed: 0 });
      expect(await granted([['salesforce', 'OPP-1'], ['erp', 'SO-1']])).toBe(1);
      expect(await entitlementsOf(account)).toBe(ents);
      const [f, ...more] = await findings('OPP-1');
      expect(more).toEqual([]);
      expect(f).toMatchObject({ account_id: account, status: 'OPEN', leakage: '0' });
      expect(f.details).toMatchObject({ granting: { system: 'salesforce', externalId: 'OPP-1', orderId: expect.any(String) }, skipped: { connection: 'erp', system: 'erp', externalId: 'SO-1' } });
      expect(f.details.reason).toMatch(/granted once, from salesforce/);
      const [state] = await hub.ds.query(`SELECT status, error_code FROM sync_record WHERE external_id = 'SO-1'`);
      expect(state).toEqual({ status: 'LINKED', error_code: 'DUPLICATE_SOURCE' });

      // Reruns of both sides: nothing granted, no second finding.
      await runSync('erp', ['orders'], true);
      await runSync('crm', ['orders'], true);
      expect(await granted([['salesforce', 'OPP-1'], ['erp', 'SO-1']])).toBe(1);
      expect(await findings('OPP-1')).toHaveLength(1);
    });

    it('ERP order first (deal source CRM): it waits, the CRM deal grants when it arrives, one finding', async () => {
      expect(await upload('erp', 'orders', order('SO-2', 'N2', 'OPP-2'))).toMatchObject({ created: 0, unchanged: 1, failed: 0 });
      expect(await granted([['salesforce', 'OPP-2'], ['erp', 'SO-2']])).toBe(0);
      expect(await findings('OPP-2')).toHaveLength(0);
      expect(await upload('crm', 'orders', crmOrder('OPP-2', 'C2'))).toMatchObject({ created: 1, failed: 0 });
      expect(await granted([['salesforce', 'OPP-2'], ['erp', 'SO-2']])).toBe(1);
      expect(await granted([['salesforce', 'OPP-2']])).toBe(1);
      const [f, ...more] = await findings('OPP-2');
      expect(more).toEqual([]);
      expect(f.details).toMatchObject({ granting: { system: 'salesforce', externalId: 'OPP-2' }, skipped: { system: 'erp', externalId: 'SO-2' } });
      await runSync('erp', ['orders'], true);
      await runSync('crm', ['orders'], true);
      expect(await granted([['salesforce', 'OPP-2'], ['erp', 'SO-2']])).toBe(1);
      expect(await findings('OPP-2')).toHaveLength(1);
    });

    it('deal source ERP: the ERP order grants; the CRM deal arriving later grants nothing; one finding', async () => {
      await upload('erp-first', 'accounts', ['customer_id,name,crm_account_id', 'M3,Customer 3,C3']);
      expect(await upload('erp-first', 'orders', order('SO-3', 'M3', 'OPP-3'))).toMatchObject({ created: 1, failed: 0 });
      expect(await upload('crm', 'orders', crmOrder('OPP-3', 'C3'))).toMatchObject({ created: 0, unchanged: 1, failed: 0 });
      expect(await granted([['salesforce', 'OPP-3'], ['erp2', 'SO-3']])).toBe(1);
      expect(await granted([['erp2', 'SO-3']])).toBe(1);
      const [f, ...more] = await findings('OPP-3');
      expect(more).toEqual([]);
      expect(f.details).toMatchObject({ granting: { system: 'erp2', externalId: 'SO-3' }, skipped: { system: 'salesforce', externalId: 'OPP-3' } });
      await runSync('crm', ['orders'], true);
      await runSync('erp-first', ['orders'], true);
      expect(await granted([['salesforce', 'OPP-3'], ['erp2', 'SO-3']])).toBe(1);
      expect(await findings('OPP-3')).toHaveLength(1);
      // Visible in the findings list.
      const list = await hub.ok<{ complianceFindings: { edges: { node: { kind: string; details: Record<string, unknown> } }[] } }>(
        `{ complianceFindings(first: 50) { edges { node { kind details } } } }`,
      );
      expect(list.complianceFindings.edges.filter((e) => e.node.kind === 'DUPLICATE_SOURCE')).toHaveLength(3);
    });
  });

  describe('receivables', () => {
    const customers = ['N1', 'N2', 'N3', 'N4', 'N5', 'N6'];
    const docs = generateDocs(customers, 240, 20261204);
    const late = generateDocs(['N9'], 12, 7).map((d) => ({ ...d, id: `L-${d.id}` }));
    const csv = (list: Doc[]) => [
      'document_id,kind,customer_id,number,date,due_date,currency,amount,open_amount,status',
      ...list.map((d) => `${d.id},${d.kind},${d.customer},${d.id.replace('D-', 'NO-')},${d.date},${d.due ?? ''},${d.currency},${major(d.amount)},${major(d.open)},${d.open ? 'Open' : 'Paid In Full'}`),
    ];
    const summaries = async (ids: string[]) => {
      const out = new Map<string, unknown[]>();
      for (const id of ids) {
        const { account } = await hub.ok<{ account: { receivables: unknown[] } }>(`query($id: ID!) { account(id: $id) { receivables(asOf: "${AS_OF}") { ${SUMMARY} } } }`, { id });
        out.set(id, account.receivables);
      }
      return out;
    };

    it('imports documents, reports bad rows, and each account\'s open balance and overdue days equal the sums computed here', async () => {
      const rows = csv([...docs, ...late]);
      rows.push('BAD-1,refund,N1,,2026-01-01,,USD,10.00,0.00,'); // row 254
      rows.push('BAD-2,invoice,N1,,2026-01-01,2026-02-30,USD,10.00,0.00,'); // row 255
      rows.push('BAD-3,invoice,N1,,2026-01-01,,USD,10.00,20.00,'); // row 256
      rows.push('BAD-4,payment,N1,,2026-01-01,,USD,-5,0,'); // row 257
      const run = await upload('erp', 'receivables', rows);
      expect(run).toMatchObject({ object: 'receivables', status: 'PARTIAL', read: 252, created: 240, failed: 16 });
      expect(run.errors.filter((e) => e.code === 'NO_ACCOUNT_LINK').map((e) => e.record).sort()).toEqual(late.map((d) => d.id).sort());
      expect(run.errors.filter((e) => e.row).map((e) => [e.row, e.column, e.code])).toEqual([
        [254, 'kind', 'INVALID_KIND'],
        [255, 'due_date', 'INVALID_DATE'],
        [256, 'open_amount', 'OPEN_EXCEEDS_AMOUNT'],
        [257, 'amount', 'INVALID_AMOUNT'],
      ]);

      const expected = expectedSummaries(docs);
      const ids = await Promise.all(customers.map((c) => accountOf('erp', c)));
      const got = await summaries(ids as string[]);
      for (const [i, c] of customers.entries()) {
        const want = [...expected.entries()].filter(([k]) => k.startsWith(`${c}|`)).map(([, v]) => v).sort((a, b) => String(a.currency).localeCompare(String(b.currency)));
        expect({ customer: c, summaries: got.get(ids[i]!) }).toEqual({ customer: c, summaries: want });
      }
    });

    it('changes nothing when pulled again', async () => {
      const before = await hub.ds.query(`SELECT id, updated_at FROM receivable ORDER BY id`);
      const [run] = await runSync('erp', ['receivables'], true);
      // Failed again: the 4 bad rows and the 12 documents of N9 (read from the file, and retried from their stored copies).
      expect(run).toMatchObject({ created: 0, updated: 0, unchanged: 240, failed: 4 + 12 + 12 });
      expect(await hub.ds.query(`SELECT id, updated_at FROM receivable ORDER BY id`)).toEqual(before);
    });

    it('applies the documents of a customer that arrives later on the next pull (NO_ACCOUNT_LINK is retried)', async () => {
      await upload('erp', 'accounts', ['customer_id,name', 'N9,Late Customer']);
      const [run] = await runSync('erp', ['receivables']);
      expect(run).toMatchObject({ created: 12, failed: 0 });
      const id = (await accountOf('erp', 'N9'))!;
      const got = await summaries([id]);
      expect(got.get(id)).toEqual([...expectedSummaries(late).values()].sort((a, b) => String(a.currency).localeCompare(String(b.currency))));
      expect((await runSync('erp', ['receivables']))[0]).toMatchObject({ read: 0, failed: 0 });
    });

    it('lists documents newest first, paginated, batched over many accounts', async () => {
      const id = (await accountOf('erp', 'N1'))!;
      const mine = docs.filter((d) => d.customer === 'N1').sort((a, b) => (a.date === b.date ? 0 : a.date < b.date ? 1 : -1));
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        type Page = { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string }; edges: { node: { externalId: string; date: string; amount: { amountMinor: string } } }[] };
        const { account }: { account: { receivableDocuments: Page } } = await hub.ok<{ account: { receivableDocuments: Page } }>(
          `query($id: ID!, $after: String) { account(id: $id) { receivableDocuments(first: 7, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { externalId date amount { amountMinor } } } } } }`,
          { id, after },
        );
        const page: Page = account.receivableDocuments;
        expect(page.totalCount).toBe(mine.length);
        seen.push(...page.edges.map((e) => e.node.externalId));
        for (const e of page.edges) expect(e.node.amount.amountMinor).toBe(String(docs.find((d) => d.id === e.node.externalId)!.amount));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect([...seen].sort()).toEqual(mine.map((d) => d.id).sort());
      expect(seen.map((x) => docs.find((d) => d.id === x)!.date)).toEqual(mine.map((d) => d.date));

      const q = `query($n: Int!) { accounts(first: $n) { edges { node { id receivables(asOf: "${AS_OF}") { currency openBalance { amountMinor } } receivableDocuments(first: 2) { totalCount } } } } }`;
      const few = await hub.countQueries(() => hub.ok(q, { n: 2 }));
      const many = await hub.countQueries(() => hub.ok(q, { n: 100 }));
      expect(many.count).toBe(few.count);
    });
  });
});
