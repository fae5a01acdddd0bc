import { Role } from '../../src/auth/role';
import { startTestHub, type TestHub } from '../support/test-hub';
import { parseCsv, seedWorkedExample, type SeededExample } from './exports-seed';

let hub: TestHub;
let ex: SeededExample;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_GL_REVENUE: '4010' });
  ex = await seedWorkedExample(hub.ds);
});
afterAll(async () => hub?.close());

async function get(path: string, key: string | null = hub.adminKey) {
  const res = await fetch(`${hub.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const pick = (rows: Record<string, string>[], cols: string[]) => rows.map((r) => cols.map((c) => r[c]).join(' '));

describe('GET /v1/exports/revenue-waterfall.csv', () => {
  it('has the documented columns and one row per obligation per month, with cumulative and deferred', async () => {
    const res = await get('/v1/exports/revenue-waterfall.csv?from=2027-01&to=2027-05');
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/csv; charset=utf-8');
    expect(res.text.split('\r\n')[0]).toBe(
      'month,account_id,account_name,order_id,order_source,order_external_id,line_no,product_sku,bundle_sku,obligation_id,pattern,status,currency,allocated_minor,recognised_minor,cumulative_minor,deferred_minor',
    );
    const rows = parseCsv(res.text);
    const acme = rows.filter((r) => r.account_id === ex.accountId);
    expect(pick(acme, ['month', 'account_name', 'order_source', 'order_external_id', 'line_no', 'product_sku', 'pattern', 'currency', 'allocated_minor', 'recognised_minor', 'cumulative_minor', 'deferred_minor'])).toEqual([
      '2027-01 Acme Robotics WEB SO-1001 1 LIC-PERP POINT_IN_TIME USD 50000 50000 50000 0',
      '2027-01 Acme Robotics WEB SO-1001 2 SAAS-SUB RATABLE USD 90000 17000 17000 73000',
      '2027-02 Acme Robotics WEB SO-1001 2 SAAS-SUB RATABLE USD 90000 28000 45000 45000',
      '2027-03 Acme Robotics WEB SO-1001 2 SAAS-SUB RATABLE USD 90000 31000 76000 14000',
      '2027-04 Acme Robotics WEB SO-1001 2 SAAS-SUB RATABLE USD 90000 14000 90000 0',
    ]);
    expect(acme.map((r) => r.obligation_id)).toEqual([ex.licence, ex.subscription, ex.subscription, ex.subscription, ex.subscription]);
    expect(new Set(acme.map((r) => r.order_id))).toEqual(new Set([ex.orderId]));
    // The cancelled obligation: adjustments net in their month; a formula-looking name is defused.
    const globex = rows.filter((r) => r.account_id === ex.otherAccountId);
    expect(pick(globex, ['month', 'account_name', 'status', 'currency', 'recognised_minor', 'cumulative_minor', 'deferred_minor'])).toEqual([
      "2027-02 '=Globex CANCELLED EUR 5000 5000 5000",
      "2027-03 '=Globex CANCELLED EUR 0 5000 5000",
    ]);
  });

  it('carries what was recognised before `from` into cumulative', async () => {
    const rows = parseCsv((await get('/v1/exports/revenue-waterfall.csv?from=2027-03&to=2027-03')).text);
    expect(pick(rows, ['obligation_id', 'recognised_minor', 'cumulative_minor', 'deferred_minor'])).toEqual(
      expect.arrayContaining([`${ex.subscription} 31000 76000 14000`, `${ex.cancelled} 0 5000 5000`]),
    );
    expect(rows).toHaveLength(2); // the licence was recognised in January and is not active in March
  });

  it('shows months without entries inside a term, and nothing outside any span', async () => {
    await hub.ds.query(`DELETE FROM revenue_entry WHERE obligation_id = $1 AND month = '2027-02-01'`, [ex.subscription]);
    try {
      const rows = parseCsv((await get(`/v1/exports/revenue-waterfall.csv?from=2027-02&to=2027-02&accountId=${ex.accountId}`)).text);
      expect(pick(rows, ['obligation_id', 'recognised_minor', 'cumulative_minor', 'deferred_minor'])).toEqual([`${ex.subscription} 0 17000 73000`]);
    } finally {
      await hub.ds.query(`INSERT INTO revenue_entry (account_id, obligation_id, month, amount_minor, kind) VALUES ($1, $2, '2027-02-01', 28000, 'SCHEDULE')`, [ex.accountId, ex.subscription]);
    }
    expect(parseCsv((await get('/v1/exports/revenue-waterfall.csv?from=2030-01&to=2030-12')).text)).toEqual([]);
  });

  it('filters by account; FINANCE may export; a scoped key sees only its account', async () => {
    const finance = await hub.createKey(Role.FINANCE);
    const only = parseCsv((await get(`/v1/exports/revenue-waterfall.csv?from=2027-01&to=2027-12&accountId=${ex.otherAccountId}`, finance)).text);
    expect(new Set(only.map((r) => r.account_id))).toEqual(new Set([ex.otherAccountId]));

    const scoped = await hub.createKey(Role.FINANCE, ex.accountId);
    const mine = parseCsv((await get('/v1/exports/revenue-waterfall.csv?from=2027-01&to=2027-12', scoped)).text);
    expect(mine).toHaveLength(5);
    expect(new Set(mine.map((r) => r.account_id))).toEqual(new Set([ex.accountId]));
    const other = await get(`/v1/exports/revenue-waterfall.csv?from=2027-01&to=2027-12&accountId=${ex.otherAccountId}`, scoped);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.text).errors[0].extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
  });
});

describe('GET /v1/exports/journal-entries.csv', () => {
  it('posts billing and recognition through contract liability and contract asset, balanced per entry', async () => {
    const res = await get('/v1/exports/journal-entries.csv?from=2027-01&to=2027-04');
    expect(res.status).toBe(200);
    expect(res.text.split('\r\n')[0]).toBe(
      'date,entry_id,entry_type,gl_account_code,gl_account,debit_minor,credit_minor,currency,reference_id,account_id,account_name,order_id,order_source,order_external_id,line_no',
    );
    const rows = parseCsv(res.text);
    const acme = rows.filter((r) => r.order_id === ex.orderId);
    expect(pick(acme, ['date', 'entry_type', 'gl_account_code', 'gl_account', 'debit_minor', 'credit_minor', 'line_no'])).toEqual([
      '2027-01-15 INVOICE 1200 RECEIVABLE 60000 0 ',
      '2027-01-15 INVOICE 2400 CONTRACT_LIABILITY 0 60000 ',
      '2027-01-31 RECOGNITION 2400 CONTRACT_LIABILITY 50000 0 1',
      '2027-01-31 RECOGNITION 4010 REVENUE 0 50000 1',
      '2027-01-31 RECOGNITION 2400 CONTRACT_LIABILITY 10000 0 2',
      '2027-01-31 RECOGNITION 1300 CONTRACT_ASSET 7000 0 2',
      '2027-01-31 RECOGNITION 4010 REVENUE 0 17000 2',
      '2027-02-28 RECOGNITION 1300 CONTRACT_ASSET 28000 0 2',
      '2027-02-28 RECOGNITION 4010 REVENUE 0 28000 2',
      '2027-03-10 INVOICE 1200 RECEIVABLE 80000 0 ',
      '2027-03-10 INVOICE 1300 CONTRACT_ASSET 0 35000 ',
      '2027-03-10 INVOICE 2400 CONTRACT_LIABILITY 0 45000 ',
      '2027-03-31 RECOGNITION 2400 CONTRACT_LIABILITY 31000 0 2',
      '2027-03-31 RECOGNITION 4010 REVENUE 0 31000 2',
      '2027-04-30 RECOGNITION 2400 CONTRACT_LIABILITY 14000 0 2',
      '2027-04-30 RECOGNITION 4010 REVENUE 0 14000 2',
    ]);
    expect(acme[0]!.entry_id).toBe(`INV-${ex.invoices[0]}`);
    expect(acme[2]!.entry_id).toBe(`REV-${ex.licence}-2027-01`);
    expect(acme[2]!.reference_id).toBe(ex.licence);

    // Debits equal credits per entry (reference and date), and in total per currency.
    const sums = new Map<string, bigint>();
    for (const r of rows) {
      for (const k of [`${r.entry_id} ${r.date}`, r.currency!]) sums.set(k, (sums.get(k) ?? 0n) + BigInt(r.debit_minor!) - BigInt(r.credit_minor!));
    }
    expect([...sums.values()].every((v) => v === 0n)).toBe(true);
    // Over the whole life: everything billed was recognised, so liability and asset are back to 0.
    const net = (code: string) => acme.filter((r) => r.gl_account_code === code).reduce((s, r) => s + BigInt(r.debit_minor!) - BigInt(r.credit_minor!), 0n);
    expect([net('2400'), net('1300'), net('1200'), net('4010')]).toEqual([0n, 0n, 140000n, -140000n]);
    // The cancelled EUR contract: March nets to 0, so there is no March entry.
    expect(pick(rows.filter((r) => r.account_id === ex.otherAccountId), ['date', 'gl_account', 'debit_minor', 'credit_minor'])).toEqual([
      '2027-02-01 RECEIVABLE 10000 0',
      '2027-02-01 CONTRACT_LIABILITY 0 10000',
      '2027-02-28 CONTRACT_LIABILITY 5000 0',
      '2027-02-28 REVENUE 0 5000',
    ]);
  });

  it('starts later months from the position built before `from`', async () => {
    const rows = parseCsv((await get(`/v1/exports/journal-entries.csv?from=2027-03&to=2027-03&accountId=${ex.accountId}`)).text);
    expect(pick(rows, ['date', 'gl_account', 'debit_minor', 'credit_minor'])).toEqual([
      '2027-03-10 RECEIVABLE 80000 0',
      '2027-03-10 CONTRACT_ASSET 0 35000',
      '2027-03-10 CONTRACT_LIABILITY 0 45000',
      '2027-03-31 CONTRACT_LIABILITY 31000 0',
      '2027-03-31 REVENUE 0 31000',
    ]);
  });
});

describe('export errors', () => {
  const W = '/v1/exports/revenue-waterfall.csv';
  it.each([
    ['?from=2027-1&to=2027-03', 'EXPORT_MONTH_INVALID'],
    ['?to=2027-03', 'EXPORT_MONTH_INVALID'],
    ['?from=2027-13&to=2028-01', 'EXPORT_MONTH_INVALID'],
    ['?from=2027-04&to=2027-03', 'EXPORT_RANGE_REVERSED'],
    ['?from=2017-01&to=2027-01', 'EXPORT_RANGE_TOO_LONG'],
    ['?from=2027-01&to=2027-03&accountId=nope', 'EXPORT_ACCOUNT_ID_INVALID'],
  ])('%s → 400 %s', async (qs, subCode) => {
    for (const path of [W, '/v1/exports/journal-entries.csv']) {
      const res = await get(`${path}${qs}`);
      expect(res.status).toBe(400);
      const body = JSON.parse(res.text) as { errors: { message: string; extensions: { code: string; subCode: string } }[] };
      expect(body.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode });
      expect(body.errors[0]!.message.length).toBeGreaterThan(10);
    }
  });

  it('120 months is the longest range accepted', async () => {
    expect((await get(`${W}?from=2018-01&to=2027-12`)).status).toBe(200);
  });

  it('an unknown account is 404; no key 401; a wrong key 401; a role other than FINANCE/ADMIN 403', async () => {
    const unknown = await get(`${W}?from=2027-01&to=2027-03&accountId=00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    const none = await get(`${W}?from=2027-01&to=2027-03`, null);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', subCode: 'AUTH_KEY_MISSING' });
    expect((await get(`${W}?from=2027-01&to=2027-03`, 'ehub_abcdefgh_notarealkeynotarealkey00')).status).toBe(401);
    for (const role of [Role.ANALYST, Role.OPERATIONS, Role.READONLY, Role.INTEGRATION]) {
      const res = await get(`/v1/exports/journal-entries.csv?from=2027-01&to=2027-03`, await hub.createKey(role));
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text).errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', subCode: 'AUTH_ROLE_NOT_ALLOWED' });
    }
  });
});
