import { randomUUID } from 'node:crypto';
import { Role } from '../../src/auth/role';
import { startTestHub, gqlError, type TestHub } from '../support/test-hub';
import { createAccount, day, grant } from '../licensing/licensing-support';
import {
  RECORD,
  eventCount,
  hoursAgo,
  meterIds,
  ndjson,
  postUsage,
  recomputedRollups,
  recordUsage,
  seedUsageCatalog,
  storedRollups,
} from './usage-support';

let hub: TestHub;
let acme: string;
let globex: string;
let meters: Record<string, string>;

beforeAll(async () => {
  hub = await startTestHub();
  await seedUsageCatalog(hub);
  meters = await meterIds(hub);
  acme = await createAccount(hub, 'Acme');
  globex = (
    await hub.ok<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
      i: { name: 'Globex', externalRefs: [{ system: 'salesforce', object: 'Account', externalId: '001GLOBEX' }] },
    })
  ).upsertAccount.id;
  await grant(hub, acme, { sku: 'U-API', startDate: day(-30) });
  await grant(hub, globex, { sku: 'U-API', startDate: day(-30) });
});
afterAll(async () => hub?.close());

const event = (over: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  accountId: acme,
  meter: 'u.calls',
  quantity: 1,
  occurredAt: hoursAgo(1),
  deployment: 'CLOUD',
  ...over,
});

/** The stored rollups must always equal a rebuild from the events. */
async function expectRollupsConsistent() {
  expect(await storedRollups(hub.ds)).toEqual(await recomputedRollups(hub.ds));
}

async function rollupSum(accountId: string, meter: string, granularity: 'H' | 'D' = 'D'): Promise<{ sum: string; count: number }> {
  const [row] = await hub.ds.query(
    `SELECT coalesce(trim_scale(sum(sum)), 0)::text AS sum, coalesce(sum(count), 0)::int AS count FROM usage_rollup WHERE account_id = $1 AND meter_id = $2 AND granularity = $3`,
    [accountId, meters[meter], granularity],
  );
  return row;
}

describe('POST /v1/usage (NDJSON)', () => {
  it('counts every event of a batch posted 5 times exactly once', async () => {
    const account = await createAccount(hub, 'Five Times');
    const batch = Array.from({ length: 50 }, (_, i) => event({ accountId: account, id: `five-${i}`, quantity: i + 1, occurredAt: hoursAgo(i % 7) }));
    const answers = [];
    for (let n = 0; n < 5; n++) answers.push(await postUsage(hub, batch));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers[0]!.body).toEqual({ accepted: 50, duplicates: 0, conflicts: 0, rejected: [] });
    for (const a of answers.slice(1)) expect(a.body).toEqual({ accepted: 0, duplicates: 50, conflicts: 0, rejected: [] });
    expect(await eventCount(hub, account)).toBe(50);
    expect(await rollupSum(account, 'u.calls')).toEqual({ sum: String((50 * 51) / 2), count: 50 });
    expect(await rollupSum(account, 'u.calls', 'H')).toEqual({ sum: String((50 * 51) / 2), count: 50 });
    await expectRollupsConsistent();
  });

  it('counts a batch posted 5 times at once exactly once', async () => {
    const account = await createAccount(hub, 'Five At Once');
    const batch = Array.from({ length: 3000 }, (_, i) => event({ accountId: account, id: `race-${i}`, quantity: 2, occurredAt: hoursAgo(i % 30) }));
    const answers = await Promise.all(Array.from({ length: 5 }, () => postUsage(hub, batch)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.map((a) => a.body.conflicts + a.body.rejected.length)).toEqual([0, 0, 0, 0, 0]);
    expect(answers.reduce((n, a) => n + a.body.accepted, 0)).toBe(3000);
    expect(answers.reduce((n, a) => n + a.body.duplicates, 0)).toBe(12_000);
    expect(await eventCount(hub, account)).toBe(3000);
    expect(await rollupSum(account, 'u.calls')).toEqual({ sum: '6000', count: 3000 });
    await expectRollupsConsistent();
  });

  it('answers duplicates within one batch, and reports conflicts without counting them', async () => {
    const account = await createAccount(hub, 'Conflicts');
    const first = event({ accountId: account, id: 'c-1', quantity: 5 });
    const r1 = await postUsage(hub, [first, first, { ...first, quantity: 6 }]);
    expect(r1.body).toEqual({
      accepted: 1,
      duplicates: 1,
      conflicts: 1,
      rejected: [{ index: 2, id: 'c-1', code: 'CONFLICT', message: expect.stringContaining('different content') }],
    });
    // Later: the same content (written differently) is a duplicate, other content a conflict.
    const r2 = await postUsage(hub, [{ ...first, quantity: '5.000' }, { ...first, deployment: 'ON_PREM' }, { ...first, source: 'other' }]);
    expect(r2.body).toMatchObject({ accepted: 1, duplicates: 1, conflicts: 1, rejected: [{ index: 1, code: 'CONFLICT' }] });
    expect(await rollupSum(account, 'u.calls')).toEqual({ sum: '10', count: 2 });
    // The same id in another account is another event.
    expect((await postUsage(hub, [{ ...first, accountId: globex }])).body.accepted).toBe(1);
    await expectRollupsConsistent();
  });

  it('settles a race between two contents under the same ids: one stands per id, the other is a conflict', async () => {
    const account = await createAccount(hub, 'Conflict race');
    const one = Array.from({ length: 2000 }, (_, i) => event({ accountId: account, id: `cr-${i}`, quantity: 1, occurredAt: hoursAgo(i % 10) }));
    const five = one.map((e) => ({ ...e, quantity: 5 }));
    const answers = (await Promise.all([one, five, one, five].map((b) => postUsage(hub, b)))).map((a) => a.body);
    expect(answers.reduce((n, a) => n + a.accepted, 0)).toBe(2000);
    expect(answers.reduce((n, a) => n + a.accepted + a.duplicates + a.conflicts, 0)).toBe(8000);
    expect(answers.every((a) => a.rejected.length === a.conflicts && a.rejected.every((r) => r.code === 'CONFLICT'))).toBe(true);
    // Per id, the two batches of the content that stood saw it as accepted + duplicate; the other two as conflicts.
    const [{ ones, fives }] = await hub.ds.query(
      `SELECT count(*) FILTER (WHERE quantity = 1)::int AS ones, count(*) FILTER (WHERE quantity = 5)::int AS fives FROM usage_event WHERE account_id = $1`,
      [account],
    );
    expect(ones + fives).toBe(2000);
    expect(answers.reduce((n, a) => n + a.conflicts, 0)).toBe(4000);
    expect(await rollupSum(account, 'u.calls')).toEqual({ sum: String(ones + 5 * fives), count: 2000 });
    await expectRollupsConsistent();
  });

  it('rejects each bad event with its code and keeps the good ones', async () => {
    const account = await createAccount(hub, 'Validation');
    const body = [
      JSON.stringify(event({ accountId: account, id: 'ok-1' })),
      '{"this is": not json',
      JSON.stringify(event({ accountId: account, id: 'v-meter', meter: 'u.nope' })),
      JSON.stringify(event({ accountId: randomUUID(), id: 'v-account' })),
      JSON.stringify(event({ accountId: 'not-a-uuid', id: 'v-account-2' })),
      JSON.stringify(event({ accountId: undefined, accountRef: { system: 'salesforce', object: 'Account', externalId: 'nope' }, id: 'v-ref' })),
      JSON.stringify(event({ accountId: account, id: 'v-qty', quantity: 'NaN' })),
      JSON.stringify(event({ accountId: account, id: 'v-neg', meter: 'u.requests', quantity: -1 })),
      JSON.stringify(event({ accountId: account, id: 'v-future', occurredAt: hoursAgo(-1) })),
      JSON.stringify(event({ accountId: account, id: 'v-props', properties: { blob: 'x'.repeat(9000) } })),
      JSON.stringify(event({ accountId: account, id: 'v-deploy', deployment: 'MOON' })),
      JSON.stringify(event({ accountId: account, id: 'v-missing', occurredAt: undefined })),
      JSON.stringify(event({ accountId: account, id: 'v-value', meter: 'u.storage.peak', properties: { gb: 'lots' } })),
      JSON.stringify(event({ accountId: account, id: 'v-unique', meter: 'u.users' })),
      JSON.stringify(event({ accountId: account, id: 'ok-2', quantity: -3 })), // a SUM correction
      '',
      JSON.stringify(event({ accountId: undefined, accountRef: { system: 'SalesForce', object: 'Account', externalId: '001GLOBEX' }, id: 'ok-ref' })),
      // Valid JSON that PostgreSQL cannot store: refused alone, not a failed batch.
      JSON.stringify(event({ accountId: account, id: 'v-nul', user: 'a\u0000b' })),
      JSON.stringify(event({ accountId: account, id: 'v-surrogate', properties: { note: 'x\ud800' } })),
    ].join('\n');
    for (let attempt = 0; attempt < 2; attempt++) {
      const { status, body: answer } = await postUsage(hub, body);
      expect(status).toBe(200);
      expect(answer.rejected.map((r) => [r.index, r.id, r.code])).toEqual([
        [1, null, 'INVALID_EVENT'],
        [2, 'v-meter', 'UNKNOWN_METER'],
        [3, 'v-account', 'UNKNOWN_ACCOUNT'],
        [4, 'v-account-2', 'UNKNOWN_ACCOUNT'],
        [5, 'v-ref', 'UNKNOWN_ACCOUNT'],
        [6, 'v-qty', 'INVALID_QUANTITY'],
        [7, 'v-neg', 'INVALID_QUANTITY'],
        [8, 'v-future', 'FUTURE_TIMESTAMP'],
        [9, 'v-props', 'PROPERTIES_TOO_LARGE'],
        [10, 'v-deploy', 'INVALID_EVENT'],
        [11, 'v-missing', 'INVALID_EVENT'],
        [12, 'v-value', 'INVALID_QUANTITY'],
        [13, 'v-unique', 'INVALID_EVENT'],
        [17, 'v-nul', 'INVALID_EVENT'],
        [18, 'v-surrogate', 'INVALID_EVENT'],
      ]);
      expect(answer.rejected.every((r) => r.message.length > 10)).toBe(true);
      expect([answer.accepted, answer.duplicates]).toEqual(attempt === 0 ? [3, 0] : [0, 3]);
    }
    expect(await rollupSum(account, 'u.calls')).toEqual({ sum: '-2', count: 2 });
    const [viaRef] = await hub.ds.query(`SELECT account_id::text FROM usage_event WHERE event_id = 'ok-ref'`);
    expect(viaRef.account_id).toBe(globex);
  });

  it('puts late events (days old) into their own hour and day, and keeps MAX, LATEST and distinct counts right', async () => {
    const account = await createAccount(hub, 'Late');
    const now = Date.now();
    const at = (h: number) => hoursAgo(h, now);
    await postUsage(hub, [
      event({ accountId: account, id: 'now-1', meter: 'u.storage', quantity: 10, occurredAt: at(0.1) }),
      event({ accountId: account, id: 'now-2', meter: 'u.storage.peak', quantity: 1, properties: { gb: 7 }, occurredAt: at(0.1) }),
      event({ accountId: account, id: 'now-3', meter: 'u.users', properties: { userId: 'ann' }, occurredAt: at(0.1) }),
    ]);
    // Three days late: lands in its own buckets, does not replace the latest value.
    const lateBatch = [
      event({ accountId: account, id: 'late-1', meter: 'u.storage', quantity: 99, occurredAt: at(72) }),
      event({ accountId: account, id: 'late-2', meter: 'u.storage.peak', quantity: 1, properties: { gb: 70 }, occurredAt: at(72) }),
      event({ accountId: account, id: 'late-3', meter: 'u.users', properties: { userId: 'bob' }, occurredAt: at(72) }),
      event({ accountId: account, id: 'late-4', meter: 'u.users', user: 'ann', properties: {}, occurredAt: at(0.2) }),
      event({ accountId: account, id: 'late-5', meter: 'u.users', properties: { userId: 'ann' }, occurredAt: at(0.3) }),
    ];
    expect((await postUsage(hub, lateBatch)).body).toMatchObject({ accepted: 5, rejected: [] });
    expect((await postUsage(hub, lateBatch)).body).toMatchObject({ accepted: 0, duplicates: 5 });
    const latest = await hub.ds.query(
      `SELECT granularity, trim_scale(latest_value)::text AS v FROM usage_rollup WHERE account_id = $1 AND meter_id = $2 ORDER BY bucket DESC, granularity LIMIT 2`,
      [account, meters['u.storage']],
    );
    expect(latest.map((r: { v: string }) => r.v)).toEqual(['10', '10']);
    const [{ n: lateBuckets }] = await hub.ds.query(
      `SELECT count(*)::int AS n FROM usage_rollup WHERE account_id = $1 AND bucket <= $2 AND granularity = 'H'`,
      [account, at(71)],
    );
    expect(lateBuckets).toBe(3); // storage, storage.peak, users — three days back
    const [{ max }] = await hub.ds.query(`SELECT trim_scale(max(max))::text AS max FROM usage_rollup WHERE account_id = $1 AND meter_id = $2`, [account, meters['u.storage.peak']]);
    expect(max).toBe('70');
    const [{ n: distinct }] = await hub.ds.query(
      `SELECT count(DISTINCT value)::int AS n FROM usage_unique WHERE account_id = $1 AND granularity = 'D'`,
      [account],
    );
    expect(distinct).toBe(2);
    await expectRollupsConsistent();
  });

  it('refuses a body of 10,001 lines and takes nothing of it; takes 10,000', async () => {
    const account = await createAccount(hub, 'Big');
    const line = (i: number) => JSON.stringify(event({ accountId: account, id: `big-${i}`, occurredAt: hoursAgo(i % 48) }));
    const lines = Array.from({ length: 10_001 }, (_, i) => line(i));
    const refused = await postUsage(hub, lines.join('\n'));
    expect(refused.status).toBe(413);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', subCode: 'USAGE_BATCH_TOO_LARGE' });
    expect(await eventCount(hub, account)).toBe(0);
    const taken = await postUsage(hub, lines.slice(0, 10_000).join('\n'));
    expect(taken.body).toEqual({ accepted: 10_000, duplicates: 0, conflicts: 0, rejected: [] });
    expect((await postUsage(hub, lines.slice(0, 10_000).join('\n'))).body).toEqual({ accepted: 0, duplicates: 10_000, conflicts: 0, rejected: [] });
    expect(await eventCount(hub, account)).toBe(10_000);
    expect(await rollupSum(account, 'u.calls', 'H')).toEqual({ sum: '10000', count: 10_000 });
  });

  it('wants NDJSON, a key, and an ingest role', async () => {
    const batch = [event({ id: 'auth-1' })];
    expect((await postUsage(hub, batch, null)).status).toBe(401);
    expect((await postUsage(hub, batch, 'ehub_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbb')).status).toBe(401);
    for (const role of [Role.ANALYST, Role.READONLY, Role.FINANCE]) {
      const r = await postUsage(hub, batch, await hub.createKey(role));
      expect([r.status, r.body.errors?.[0]?.extensions.code]).toEqual([403, 'FORBIDDEN']);
    }
    for (const role of [Role.INTEGRATION, Role.OPERATIONS]) {
      expect((await postUsage(hub, [event({ id: `auth-${role}` })], await hub.createKey(role))).body.accepted).toBe(1);
    }
    const json = await postUsage(hub, JSON.stringify([event()]), hub.adminKey, 'application/json');
    expect([json.status, json.body.errors?.[0]?.extensions.subCode]).toEqual([415, 'USAGE_NDJSON_REQUIRED']);
    expect((await postUsage(hub, '', hub.adminKey)).body).toEqual({ accepted: 0, duplicates: 0, conflicts: 0, rejected: [] });
  });

  it('limits an account-scoped key to its own account, event by event', async () => {
    const key = await hub.createKey(Role.INTEGRATION, acme);
    const batch = [
      event({ id: 'scoped-own' }),
      event({ id: 'scoped-other', accountId: globex }),
      event({ id: 'scoped-ref', accountId: undefined, accountRef: { system: 'salesforce', object: 'Account', externalId: '001GLOBEX' } }),
    ];
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await postUsage(hub, batch, key);
      expect(r.body.rejected.map((x) => [x.id, x.code])).toEqual([
        ['scoped-other', 'UNKNOWN_ACCOUNT'],
        ['scoped-ref', 'UNKNOWN_ACCOUNT'],
      ]);
      expect(r.body.rejected[0]!.message).toBe(`accountId ${globex}: no such account`);
      expect(r.body.accepted + r.body.duplicates).toBe(1);
    }
    const g = await recordUsage(hub, [event({ id: 'scoped-gql', accountId: globex })], key);
    expect(g.rejected.map((x) => x.code)).toEqual(['UNKNOWN_ACCOUNT']);
  });
});

describe('attribution', () => {
  it('draws each event on the entitlement in force when it happened; keeps and flags usage with none', async () => {
    const account = await createAccount(hub, 'Attribution');
    const first = await grant(hub, account, { sku: 'U-API', startDate: day(-20), endDate: day(-11) });
    const second = await grant(hub, account, { sku: 'U-API', startDate: day(-10), endDate: day(30) });
    const d = (offset: number, hour = 12) => `${day(offset)}T${String(hour).padStart(2, '0')}:00:00Z`;
    const batch = [
      event({ accountId: account, id: 'a-before', occurredAt: d(-25) }),
      event({ accountId: account, id: 'a-first', occurredAt: d(-15) }),
      event({ accountId: account, id: 'a-second', occurredAt: d(-5) }),
      event({ accountId: account, id: 'a-last-day', occurredAt: d(-11, 23) }),
      event({ accountId: account, id: 'a-now', occurredAt: hoursAgo(0.5) }),
      event({ accountId: account, id: 'a-misc', meter: 'u.misc', occurredAt: d(-5) }),
      event({ accountId: account, id: 'a-storage', meter: 'u.storage', occurredAt: d(-5) }),
    ];
    expect((await postUsage(hub, batch)).body).toMatchObject({ accepted: 7, rejected: [] });
    expect((await postUsage(hub, batch)).body).toMatchObject({ accepted: 0, duplicates: 7, rejected: [] });
    const rows: { event_id: string; entitlement_id: string | null; unentitled: boolean; feature_key: string | null }[] = await hub.ds.query(
      `SELECT event_id, entitlement_id::text, unentitled, feature_key FROM usage_event WHERE account_id = $1 ORDER BY occurred_at, event_id`,
      [account],
    );
    const by = Object.fromEntries(rows.map((r) => [r.event_id, r]));
    expect(by['a-before']).toMatchObject({ entitlement_id: null, unentitled: true, feature_key: 'u.api' });
    expect(by['a-first']).toMatchObject({ entitlement_id: first, unentitled: false });
    expect(by['a-last-day']).toMatchObject({ entitlement_id: first, unentitled: false });
    expect(by['a-second']).toMatchObject({ entitlement_id: second, unentitled: false });
    expect(by['a-now']).toMatchObject({ entitlement_id: second, unentitled: false });
    expect(by['a-misc']).toMatchObject({ entitlement_id: null, unentitled: false, feature_key: null });
    expect(by['a-storage']).toMatchObject({ entitlement_id: null, unentitled: true, feature_key: 'u.storage' });
    // Rollups are kept per entitlement (the NIL id for none).
    const perEntitlement: { entitlement_id: string; n: number }[] = await hub.ds.query(
      `SELECT entitlement_id::text, sum(count)::int AS n FROM usage_rollup WHERE account_id = $1 AND meter_id = $2 AND granularity = 'D' GROUP BY 1 ORDER BY 2`,
      [account, meters['u.calls']],
    );
    expect(Object.fromEntries(perEntitlement.map((r) => [r.entitlement_id, r.n]))).toEqual({
      '00000000-0000-0000-0000-000000000000': 1,
      [first]: 2,
      [second]: 2,
    });
  });

  it('attributes usage during a suspension and in grace; not to a removed grant', async () => {
    const account = await createAccount(hub, 'Suspended');
    const graced = await grant(hub, account, { sku: 'U-API', startDate: day(-20), endDate: day(-3), graceDays: 5 });
    const suspended = await grant(hub, account, { sku: 'U-STORE', startDate: day(-20), endDate: day(30) });
    await hub.ok('mutation($id: ID!) { suspendEntitlement(id: $id, reason: "collections") { id } }', { id: suspended });
    // A seat grant whose order line is then removed: it never was a right.
    const order = {
      source: 'usage-test',
      externalId: `REMOVED-${randomUUID()}`,
      accountId: account,
      orderDate: day(-20),
      currency: 'USD',
      lines: [
        { lineNo: 1, sku: 'U-SEAT', quantity: 1, unitPrice: 1000, startDate: day(-20), endDate: day(30) },
        { lineNo: 2, sku: 'U-API', quantity: 1, unitPrice: 1000, startDate: day(40), endDate: day(60) },
      ],
    };
    const SUBMIT = 'mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id sku status } } }';
    await hub.ok(SUBMIT, { input: order });
    const revised = await hub.ok<{ submitOrder: { entitlements: { sku: string; status: string }[] } }>(SUBMIT, {
      input: { ...order, revision: 2, lines: [order.lines[1]] },
    });
    expect(revised.submitOrder.entitlements.find((e) => e.sku === 'U-SEAT')!.status).toBe('CANCELLED');
    const batch = [
      event({ accountId: account, id: 's-grace', occurredAt: hoursAgo(24) }),
      event({ accountId: account, id: 's-susp', meter: 'u.storage', quantity: 3, occurredAt: hoursAgo(24) }),
      event({ accountId: account, id: 's-seat', meter: 'u.users', user: 'ann', occurredAt: hoursAgo(24) }),
    ];
    expect((await postUsage(hub, batch)).body).toMatchObject({ accepted: 3, rejected: [] });
    expect((await postUsage(hub, batch)).body).toMatchObject({ accepted: 0, duplicates: 3 });
    const rows: { event_id: string; entitlement_id: string | null; unentitled: boolean }[] = await hub.ds.query(
      `SELECT event_id, entitlement_id::text, unentitled FROM usage_event WHERE account_id = $1 ORDER BY event_id`,
      [account],
    );
    expect(rows).toEqual([
      { event_id: 's-grace', entitlement_id: graced, unentitled: false },
      { event_id: 's-seat', entitlement_id: null, unentitled: true },
      { event_id: 's-susp', entitlement_id: suspended, unentitled: false },
    ]);
  });
});

/**
 * The attribution rule as one SQL expression (what the ingest statement ran per event until
 * ADR 0060): the oracle the hub's choice must agree with, boundary instants included.
 */
const ATTRIBUTION_ORACLE = `
  SELECT u.event_id, u.entitlement_id::text AS stored, att.id::text AS expected
    FROM usage_event u
    LEFT JOIN LATERAL (
      SELECT e.id
        FROM entitlement_feature ef JOIN entitlement e ON e.id = ef.entitlement_id
       WHERE u.feature_key IS NOT NULL AND ef.account_id = u.account_id AND ef.feature_key = u.feature_key
         AND NOT (e.status = 'CANCELLED' AND coalesce(e.ends_at, 'infinity') > now())
         AND e.starts_at <= u.occurred_at
         AND u.occurred_at < coalesce(CASE WHEN e.ended_reason IS NOT NULL THEN e.ends_at ELSE coalesce(e.grace_ends_at, e.ends_at) END, 'infinity')
       ORDER BY u.occurred_at < coalesce(e.ends_at, 'infinity') DESC, e.status = 'SUSPENDED', e.ends_at ASC NULLS LAST, e.starts_at, e.id
       LIMIT 1
    ) att ON true
   WHERE u.account_id = $1
   ORDER BY u.event_id`;

describe('attribution among many grants (ADR 0060)', () => {
  it('chooses what the SQL rule chooses, at every boundary instant, to the microsecond', async () => {
    const account = await createAccount(hub, 'Many Grants');
    // Overlapping grants of one feature: terms that end in the past (some with grace), in the
    // future, one suspended, two with equal terms (the id decides), one cancelled outright.
    const specs = [
      { startDate: day(-40), endDate: day(-20), graceDays: 10 },
      { startDate: day(-35), endDate: day(-10) },
      { startDate: day(-30), endDate: day(-5), graceDays: 3 },
      { startDate: day(-25), endDate: day(40) },
      { startDate: day(-25), endDate: day(40) },
      { startDate: day(-15), endDate: day(10) },
      { startDate: day(-12), endDate: day(-2), graceDays: 7 },
      { startDate: day(-8), endDate: day(20) },
      { startDate: day(-3) },
      // A one-day term: the soonest-ending in term on its day, so it wins from its first microsecond.
      { startDate: day(-6), endDate: day(-6) },
    ];
    const ids: string[] = [];
    for (const spec of specs) ids.push(await grant(hub, account, { sku: 'U-API', ...spec }));
    await hub.ok('mutation($id: ID!) { suspendEntitlement(id: $id, reason: "collections") { id } }', { id: ids[5] });
    // Sub-millisecond starts and ends: an event in the same millisecond but before them is outside.
    await hub.ds.query(`UPDATE entitlement SET starts_at = starts_at + interval '123 microseconds' WHERE id = $1`, [ids[9]]);
    await hub.ds.query(`UPDATE entitlement SET ends_at = ends_at + interval '456 microseconds', grace_ends_at = grace_ends_at + interval '456 microseconds' WHERE id = $1`, [ids[1]]);
    const bounds: { t: Date | null }[] = await hub.ds.query(
      `SELECT unnest(ARRAY[starts_at, ends_at, grace_ends_at]) AS t FROM entitlement WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const now = Date.now();
    const instants = new Set<number>();
    for (const { t } of bounds) {
      if (!t) continue;
      const ms = t.getTime();
      for (const d of [-1, 0, 1, 3_600_000]) if (ms + d < now - 60_000) instants.add(ms + d);
    }
    for (let i = 0; i < 60; i++) instants.add(now - 60_000 - Math.floor(((i * 7919) % 45) * 86_400_000 + i * 3_333_333));
    const batch = [...instants].map((t, i) => event({ accountId: account, id: `many-${String(i).padStart(3, '0')}`, occurredAt: new Date(t).toISOString() }));
    expect((await postUsage(hub, batch)).body).toMatchObject({ accepted: batch.length, rejected: [] });
    const rows: { event_id: string; stored: string | null; expected: string | null }[] = await hub.ds.query(ATTRIBUTION_ORACLE, [account]);
    expect(rows).toHaveLength(batch.length);
    expect(rows.filter((r) => r.stored !== r.expected)).toEqual([]);
    // Not vacuous: five or more grants were chosen for some event, and some events had none.
    expect(new Set(rows.map((r) => r.stored).filter(Boolean)).size).toBeGreaterThanOrEqual(5);
    expect(rows.some((r) => r.stored === null)).toBe(true);
    // The millisecond before a sub-millisecond start is not covered by that grant.
    const [oneDay] = (await hub.ds.query(`SELECT starts_at FROM entitlement WHERE id = $1`, [ids[9]])) as { starts_at: Date }[];
    const at = (ms: number) => rows.find((r) => r.event_id === batch.find((e) => Date.parse(e.occurredAt as string) === ms)!.id)!.stored;
    expect(at(oneDay!.starts_at.getTime())).not.toBe(ids[9]);
    expect(at(oneDay!.starts_at.getTime() + 1)).toBe(ids[9]);
  });
});

describe('recordUsage (GraphQL)', () => {
  it('takes up to 1,000 events, checked one by one, and refuses 1,001', async () => {
    const account = await createAccount(hub, 'GraphQL');
    const events = Array.from({ length: 1_000 }, (_, i) => event({ accountId: account, id: `g-${i}`, occurredAt: hoursAgo(i % 24) }));
    events[3] = event({ accountId: account, id: 'g-bad', meter: 'u.nope' });
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await recordUsage(hub, events);
      expect(r).toEqual({
        accepted: attempt === 0 ? 999 : 0,
        duplicates: attempt === 0 ? 0 : 999,
        conflicts: 0,
        rejected: [{ index: 3, id: 'g-bad', code: 'UNKNOWN_METER', message: 'meter: no meter has the key "u.nope"' }],
      });
    }
    const tooMany = await hub.gql(RECORD, { events: [...events, event({ accountId: account })] });
    expect(gqlError(tooMany)).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'USAGE_BATCH_TOO_LARGE' });
    expect(await eventCount(hub, account)).toBe(999);
  });

  it('answers per event for values GraphQL lets through, and refuses readers', async () => {
    const r = await recordUsage(hub, [
      event({ id: 'g-future', occurredAt: hoursAgo(-2) }),
      event({ id: 'g-both', accountRef: { system: 'salesforce', object: 'Account', externalId: '001GLOBEX' } }),
      event({ id: 'g-ok', accountId: undefined, accountRef: { system: 'salesforce', object: 'Account', externalId: '001GLOBEX' }, properties: { region: 'eu' } }),
    ]);
    expect(r.rejected.map((x) => [x.index, x.code])).toEqual([
      [0, 'FUTURE_TIMESTAMP'],
      [1, 'INVALID_EVENT'],
    ]);
    expect(r.accepted).toBe(1);
    const denied = await hub.gql(RECORD, { events: [event()] }, await hub.createKey(Role.ANALYST));
    expect(gqlError(denied).code).toBe('FORBIDDEN');
  });
});

describe('rebuildUsageRollups', () => {
  it('rebuilds an account\'s rollups from its events (ADMIN only), and changes nothing when they were right', async () => {
    const account = await createAccount(hub, 'Rebuild');
    await postUsage(hub, Array.from({ length: 30 }, (_, i) => event({ accountId: account, id: `r-${i}`, meter: i % 2 ? 'u.users' : 'u.calls', user: `user-${i % 4}`, occurredAt: hoursAgo(i * 5) })));
    const before = await storedRollups(hub.ds, [account]);
    await hub.ds.query(`UPDATE usage_rollup SET sum = sum + 1000 WHERE account_id = $1`, [account]);
    await hub.ds.query(`DELETE FROM usage_unique WHERE account_id = $1`, [account]);
    const REBUILD = 'mutation($a: ID!) { rebuildUsageRollups(accountId: $a) { accountId events rollupRows uniqueValues } }';
    for (let attempt = 0; attempt < 2; attempt++) {
      const { rebuildUsageRollups } = await hub.ok<{ rebuildUsageRollups: { events: number; rollupRows: number; uniqueValues: number } }>(REBUILD, { a: account });
      expect(rebuildUsageRollups).toMatchObject({ events: 30, rollupRows: before.rollups.length, uniqueValues: before.unique.length });
      expect(await storedRollups(hub.ds, [account])).toEqual(before);
    }
    expect(gqlError(await hub.gql(REBUILD, { a: account }, await hub.createKey(Role.OPERATIONS))).code).toBe('FORBIDDEN');
    expect(gqlError(await hub.gql(REBUILD, { a: randomUUID() })).code).toBe('NOT_FOUND');
  });
});

describe('meters in use', () => {
  it('a meter with usage cannot be deleted (archive it); one without can', async () => {
    for (const key of ['u.tmp.used', 'u.tmp.unused']) {
      await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { key, name: key, aggregation: 'SUM', unit: 'unit' } });
    }
    expect((await postUsage(hub, [event({ id: 'tmp-1', meter: 'u.tmp.used' })])).body.accepted).toBe(1);
    const DELETE = 'mutation($k: String!) { deleteMeter(key: $k) }';
    expect(gqlError(await hub.gql(DELETE, { k: 'u.tmp.used' }))).toMatchObject({ code: 'CONFLICT', subCode: 'CATALOG_IN_USE' });
    expect((await hub.ok<{ deleteMeter: boolean }>(DELETE, { k: 'u.tmp.unused' })).deleteMeter).toBe(true);
    // Archived meters still take (late) events.
    await hub.ok('mutation($k: String!) { archiveMeter(key: $k) { status } }', { k: 'u.tmp.used' });
    expect((await postUsage(hub, [event({ id: 'tmp-2', meter: 'u.tmp.used', occurredAt: hoursAgo(50) })])).body.accepted).toBe(1);
  });
});

describe('ndjson helper', () => {
  it('writes one event per line', () => expect(ndjson([{ a: 1 }, { b: 2 }])).toBe('{"a":1}\n{"b":2}\n'));
});
