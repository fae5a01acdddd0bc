import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, orderInput, seedCatalog, submitOrder, type LineSpec } from '../support/orders';
import { ENTITLEMENT_COLUMNS, toEntitlement } from '../../src/entitlements/entitlement.service';
import { auditSnapshot } from '../../src/db/db';

/**
 * Set-based fulfilment (ADR 0047): an order issues the same number of SQL statements
 * whatever its number of lines, and every line is still fulfilled completely (entitlement,
 * features, history event, audit row, revenue obligation and schedule, invoice).
 */
let hub: TestHub;
let acme: string;
beforeAll(async () => {
  hub = await startTestHub();
  await seedCatalog(hub);
  acme = await createAccount(hub, 'Set-based', '001SETBASED');
});
afterAll(async () => hub?.close());

const SUBMIT_IDS = `mutation($input: OrderInput!) { submitOrder(input: $input) { id entitlements { id } } }`;

/** One of each kind of line: per-unit limits, a seat, a device, a metered line with its own limit, a usage-priced line. */
const MIX: LineSpec[] = [
  { sku: 'SUB', quantity: 3 },
  { sku: 'SEAT', quantity: 5 },
  { sku: 'DEV', quantity: 2 },
  { sku: 'METER', quantity: 2, limits: [{ feature: 'f.api', limit: 5000 }] },
  { sku: 'USE', quantity: 1 },
];
const lines = (n: number): LineSpec[] => Array.from({ length: n }, (_, i) => ({ ...MIX[i % MIX.length]!, unitPrice: 1000 + i }));

async function statementsFor(externalId: string, n: number): Promise<{ count: number; orderId: string }> {
  const { result, count } = await hub.countQueries(() => hub.ok<{ submitOrder: { id: string; entitlements: unknown[] } }>(SUBMIT_IDS, { input: orderInput(acme, externalId, lines(n)) }));
  expect(result.submitOrder.entitlements).toHaveLength(n);
  return { count, orderId: result.submitOrder.id };
}

describe('set-based fulfilment', () => {
  it('an order of 50 lines issues no more statements than an order of 5', async () => {
    const small = await statementsFor('SET-5', 5);
    const large = await statementsFor('SET-50', 50);
    // Per line, the row-by-row path issued at least 4 statements (line, entitlement, features, event) + 2 (obligation, schedule).
    expect(large.count).toBe(small.count);
    expect(small.count).toBeLessThanOrEqual(30);
  });

  // Usage-priced lines: they take no share of the fixed price, so the lines already there keep
  // their allocation (a re-allocation modifies each fixed obligation, one by one).
  it('a revision adding 40 lines issues no more statements than one adding 4', async () => {
    const all = orderInput(acme, 'SET-REV', [...lines(2), ...Array.from({ length: 44 }, (): LineSpec => ({ sku: 'USE', quantity: 1 }))]).lines;
    const revision = async (revision: number, n: number) => {
      const input = { ...orderInput(acme, 'SET-REV', []), revision, lines: all.slice(0, n) };
      const { result, count } = await hub.countQueries(() => hub.ok<{ submitOrder: { entitlements: unknown[] } }>(SUBMIT_IDS, { input }));
      expect(result.submitOrder.entitlements).toHaveLength(n);
      return count;
    };
    await revision(1, 2);
    const four = await revision(2, 6); // the 2 lines unchanged, 4 added
    const forty = await revision(3, 46); // the 6 lines unchanged, 40 added
    expect(forty).toBe(four);
  });

  it('every line of a 50-line order is fulfilled completely', async () => {
    const { orderId } = await statementsFor('SET-CHECK', 50);
    const q = <T,>(sql: string) => hub.ds.query(sql, [orderId]) as Promise<T[]>;

    // Lines stored as given; limits and terms SQL NULL when not given (never JSON null).
    const stored = await q<{ line_no: number; sku: string; quantity: string; unit_price_minor: string; limits: unknown; limits_type: string | null; terms_null: boolean; revision: number; status: string }>(
      `SELECT line_no, sku, quantity::text AS quantity, unit_price_minor::text AS unit_price_minor, limits, jsonb_typeof(limits) AS limits_type, terms IS NULL AS terms_null, revision, status
         FROM order_line WHERE order_id = $1 ORDER BY line_no`,
    );
    expect(stored).toHaveLength(50);
    stored.forEach((l, i) => {
      const spec = lines(50)[i]!;
      expect(l).toMatchObject({ line_no: i + 1, sku: spec.sku, unit_price_minor: String(1000 + i), revision: 1, status: 'ACTIVE', terms_null: true });
      expect(Number(l.quantity)).toBe(spec.quantity);
      if (spec.limits) expect(l.limits).toEqual([{ feature: 'f.api', limit: '5000' }]);
      else expect(l.limits_type).toBeNull();
    });

    // One entitlement per line with the line's features, one GRANTED event naming the line, one audit row.
    const ents = await q<{ id: string; line_no: number; sku: string; quantity: string; status: string; features: { key: string; limit: string | null }[] }>(
      `SELECT e.id, l.line_no, e.sku, e.quantity::text AS quantity, e.status,
              COALESCE((SELECT jsonb_agg(jsonb_build_object('key', f.feature_key, 'limit', f.limit_total::text) ORDER BY f.feature_key) FROM entitlement_feature f WHERE f.entitlement_id = e.id), '[]') AS features
         FROM entitlement e JOIN order_line l ON l.id = e.order_line_id WHERE e.order_id = $1 ORDER BY l.line_no`,
    );
    expect(ents.map((e) => e.line_no)).toEqual(stored.map((l) => l.line_no));
    const expected: Record<string, (q: number) => { key: string; limit: string | null }[]> = {
      SUB: (n) => [{ key: 'f.core', limit: String(n) }, { key: 'f.render', limit: String(10 * n) }],
      SEAT: (n) => [{ key: 'f.seat', limit: String(n) }],
      DEV: (n) => [{ key: 'f.device', limit: String(n) }],
      METER: () => [{ key: 'f.api', limit: '5000' }],
      USE: () => [{ key: 'f.usage', limit: null }],
    };
    for (const e of ents) {
      expect(e.status).toBe('ACTIVE');
      expect(e.features).toEqual(expected[e.sku]!(Number(e.quantity)));
    }
    const events = await q<{ entitlement_id: string; kind: string; line_ok: boolean; after_features: unknown; note: string }>(
      `SELECT ev.entitlement_id, ev.kind, ev.order_line_id = e.order_line_id AS line_ok, ev.after->'features' AS after_features, ev.note
         FROM entitlement_event ev JOIN entitlement e ON e.id = ev.entitlement_id WHERE e.order_id = $1 ORDER BY ev.id`,
    );
    expect(events.map((ev) => ev.entitlement_id)).toEqual(ents.map((e) => e.id)); // one each, in line order
    for (const [i, ev] of events.entries()) {
      expect(ev).toMatchObject({ kind: 'GRANTED', line_ok: true, note: `granted by manual/SET-CHECK line ${i + 1}` });
      expect(ev.after_features).toEqual(ents[i]!.features.map((f) => ({ featureKey: f.key, limitTotal: f.limit })));
    }
    const audited = await q<{ entity_id: string; after: unknown }>(`SELECT entity_id, after FROM audit_log WHERE entity = 'Entitlement' AND action = 'CREATE' AND entity_id IN (SELECT id::text FROM entitlement WHERE order_id = $1)`);
    expect(new Set(audited.map((a) => a.entity_id))).toEqual(new Set(ents.map((e) => e.id)));

    // The history event's and the audit row's `after` (built in SQL) are the entitlement as the JS snapshot writes it.
    const rows = await q<Record<string, unknown>>(`SELECT ${ENTITLEMENT_COLUMNS} FROM entitlement WHERE order_id = $1`);
    const afterOf = new Map((await q<{ entitlement_id: string; after: unknown }>(`SELECT entitlement_id, after FROM entitlement_event WHERE entitlement_id IN (SELECT id FROM entitlement WHERE order_id = $1)`)).map((r) => [r.entitlement_id, r.after]));
    const auditOf = new Map(audited.map((a) => [a.entity_id, a.after]));
    for (const r of rows) {
      const e = toEntitlement(r);
      const expectedAfter = { ...(auditSnapshot(e) as object), features: ents.find((x) => x.id === e.id)!.features.map((f) => ({ featureKey: f.key, limitTotal: f.limit })) };
      expect(afterOf.get(e.id)).toEqual(expectedAfter);
      expect(auditOf.get(e.id)).toEqual(expectedAfter);
    }

    // Revenue: one obligation per line; each fixed one's schedule adds up to its allocation, and the order's fixed price is allocated and invoiced.
    const obligations = await q<{ line_no: number; pattern: string; allocated: string; scheduled: string; error: string | null }>(
      `SELECT l.line_no, o.pattern, o.allocated_minor::text AS allocated, o.allocation_error AS error,
              COALESCE((SELECT SUM(x.amount_minor) FROM revenue_entry x WHERE x.obligation_id = o.id AND x.kind = 'SCHEDULE'), 0)::text AS scheduled
         FROM revenue_obligation o JOIN order_line l ON l.id = o.order_line_id WHERE o.order_id = $1 ORDER BY l.line_no`,
    );
    expect(obligations.map((o) => o.line_no)).toEqual(stored.map((l) => l.line_no));
    const fixed = obligations.filter((o) => o.pattern !== 'AS_CONSUMED');
    expect(fixed).toHaveLength(40);
    for (const o of obligations) {
      expect(o.error).toBeNull();
      expect(o.scheduled).toBe(o.pattern === 'AS_CONSUMED' ? '0' : o.allocated);
    }
    const price = lines(50)
      .map((l, i) => ({ l, i }))
      .filter(({ l }) => l.sku !== 'USE')
      .reduce((a, { l, i }) => a + (1000 + i) * l.quantity!, 0);
    expect(fixed.reduce((a, o) => a + BigInt(o.allocated), 0n)).toBe(BigInt(price));
    const [invoiced] = await q<{ total: string }>(`SELECT SUM(amount_minor)::text AS total FROM revenue_invoice WHERE order_id = $1`);
    expect(invoiced!.total).toBe(String(price));
  });

  it('a replay of the 50-line order issues a handful of statements and writes nothing', async () => {
    const input = orderInput(acme, 'SET-CHECK', lines(50));
    const before = await hub.ds.query(`SELECT (SELECT count(*) FROM entitlement)::int AS e, (SELECT count(*) FROM entitlement_event)::int AS ev, (SELECT count(*) FROM revenue_entry)::int AS r`);
    const { count } = await hub.countQueries(() => hub.ok(SUBMIT_IDS, { input }));
    expect(count).toBeLessThanOrEqual(12);
    expect(await hub.ds.query(`SELECT (SELECT count(*) FROM entitlement)::int AS e, (SELECT count(*) FROM entitlement_event)::int AS ev, (SELECT count(*) FROM revenue_entry)::int AS r`)).toEqual(before);
  });

  it('an order whose price cannot be allocated bills its lines\' price, rounded as SQL rounds it', async () => {
    // SUITE has no standalone selling price: nothing is allocated, the order is billed unit price × quantity per fixed-price line.
    const o = await submitOrder(
      hub,
      orderInput(acme, 'SET-UNALLOCATED', [
        { sku: 'SUITE', quantity: 1.5, unitPrice: 333 },
        { sku: 'SEAT', quantity: 2.5, unitPrice: 333 },
        { sku: 'USE', quantity: 7, unitPrice: 5 },
        { sku: 'SUB', quantity: 0.3333, unitPrice: 1001 },
      ]),
    );
    const [r] = await hub.ds.query(
      `SELECT (SELECT SUM(amount_minor)::text FROM revenue_invoice WHERE order_id = $1) AS invoiced,
              (SELECT SUM(round(unit_price_minor * quantity))::text FROM order_line WHERE order_id = $1 AND model NOT IN ('USAGE','OUTCOME')) AS price,
              (SELECT bool_and(allocation_error IS NOT NULL) FROM revenue_obligation WHERE order_id = $1 AND pattern <> 'AS_CONSUMED') AS unallocated`,
      [o.id],
    );
    expect(r).toEqual({ invoiced: String(500 + 833 + 334), price: String(500 + 833 + 334), unallocated: true });
  });

  it('start dates in the past and a perpetual line still get their instants and status per line', async () => {
    const o = await submitOrder(
      hub,
      orderInput(acme, 'SET-DATES', [
        { sku: 'SUB', startDate: day(-400), endDate: day(-40) },
        { sku: 'PERP', startDate: day(-10), endDate: null },
        { sku: 'SUB', startDate: day(-10), endDate: day(100), graceDays: 5 },
      ]),
    );
    expect(o.entitlements.map((e) => [e.sku, e.status, e.endDate, e.graceDays]).sort()).toEqual(
      [
        ['PERP', 'ACTIVE', null, 0],
        ['SUB', 'ACTIVE', day(100), 5],
        ['SUB', 'EXPIRED', day(-40), 0],
      ].sort(),
    );
  });
});
