import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant } from '../licensing/licensing-support';
import { systemContext } from '../../src/common/context';
import pino from 'pino';
import { DEPLOYMENTS, METERS, meterIds, postUsage, recomputedRollups, recordUsage, seedUsageCatalog, storedRollups, type UsageAnswer } from './usage-support';

/**
 * Property test: a randomized stream (20 % resends, 10 % events days late, every meter
 * aggregation, every deployment, several accounts) sent in random batches, some at the same
 * time, over NDJSON and GraphQL. Afterwards the rollups must equal (1) a rebuild from
 * usage_event and (2) an independent computation in this test from the generated events.
 * The seed is printed on failure; EHUB_TEST_SEED replays a run.
 */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedUsageCatalog(hub);
});
afterAll(async () => hub?.close());

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Thousandths as a plain decimal string, as PostgreSQL's trim_scale(...)::text prints it. */
function milli(n: bigint): string {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const int = abs / 1000n;
  const frac = (abs % 1000n).toString().padStart(3, '0').replace(/0+$/, '');
  const s = frac ? `${int}.${frac}` : `${int}`;
  return neg && s !== '0' ? `-${s}` : s;
}

interface Generated {
  event: Record<string, unknown>;
  account: string;
  meter: (typeof METERS)[number];
  deployment: string;
  at: number;
  /** The figure the meter aggregates, in thousandths. */
  value: bigint;
  unique: string | null;
}

describe('rollups under duplicates, late events and concurrency', () => {
  jest.setTimeout(120_000);

  it('equal a rebuild from the events and an independent computation', async () => {
    const seed = Number(process.env.EHUB_TEST_SEED ?? Date.now() % 1_000_000);
    const rnd = mulberry32(seed);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));

    const accounts: string[] = [];
    for (let a = 0; a < 5; a++) accounts.push(await createAccount(hub, `Property ${a}`));
    // Entitlements that change over time, so rollups split by entitlement too.
    await grant(hub, accounts[0]!, { sku: 'U-API', startDate: day(-30), endDate: day(-6) });
    await grant(hub, accounts[0]!, { sku: 'U-API', startDate: day(-5), endDate: day(60) });
    await grant(hub, accounts[0]!, { sku: 'U-STORE', startDate: day(-30), endDate: day(60) });
    await grant(hub, accounts[1]!, { sku: 'U-API', startDate: day(-2), endDate: day(60) });
    await grant(hub, accounts[2]!, { sku: 'U-SEAT', quantity: 3, startDate: day(-30), endDate: day(60) });
    await grant(hub, accounts[3]!, { sku: 'U-STORE', startDate: day(-30), endDate: day(-10), graceDays: 3 });

    const base = Math.floor((Date.now() - 60_000) / 60_000) * 60_000;
    const UNIQUE_EVENTS = 2_000;
    const users = ['ann', 'bob', 'cid', 'dee', 'eve', 'fay'];
    const generated: Generated[] = [];
    for (let n = 0; n < UNIQUE_EVENTS; n++) {
      const meter = pick(METERS);
      const account = pick(accounts);
      const deployment = pick(DEPLOYMENTS);
      const late = rnd() < 0.1;
      // Minutes, so equal instants (LATEST ties) happen; late ones 2–20 days back.
      const at = late ? base - int(2 * 24 * 60, 20 * 24 * 60) * 60_000 : base - int(0, 48 * 60) * 60_000;
      const negative = meter.aggregation === 'SUM' && rnd() < 0.1;
      let q = BigInt(int(0, 100_000));
      if (negative) q = -q;
      const event: Record<string, unknown> = {
        id: `p-${seed}-${n}`,
        source: pick(['agent', 'pipeline']),
        accountId: account,
        meter: meter.key,
        quantity: rnd() < 0.5 ? milli(q) : Number(milli(q)),
        occurredAt: new Date(at).toISOString(),
        deployment,
      };
      if (rnd() < 0.5) event.user = pick(users);
      let value = q;
      let unique: string | null = null;
      if (meter.key === 'u.storage.peak') {
        const gb = BigInt(int(0, 500_000));
        event.quantity = 1;
        event.properties = { gb: milli(gb), region: pick(['eu', 'us']) };
        value = gb;
      } else if (meter.key === 'u.users') {
        event.quantity = 1;
        value = 1000n;
        if (rnd() < 0.7) {
          unique = pick(users) + pick(['', '-x']);
          event.properties = { userId: unique };
        } else {
          event.user = pick(users);
          unique = event.user as string;
        }
      } else if (meter.key === 'u.requests' && rnd() < 0.3) {
        event.properties = { path: `/v1/${pick(['a', 'b'])}` };
      }
      generated.push({ event, account, meter, deployment, at, value, unique });
    }

    // 20 % of what is sent is a resend of an event, written differently where JSON allows.
    const stream = generated.map((g) => g.event);
    const resends = Math.round(UNIQUE_EVENTS * 0.25); // 25 % of the originals = 20 % of the stream
    for (let r = 0; r < resends; r++) {
      const original = pick(generated).event;
      const copy = Object.fromEntries(Object.entries(original).reverse());
      if (typeof copy.quantity === 'string') copy.quantity = `${copy.quantity}${copy.quantity.includes('.') ? '0' : '.0'}`;
      stream.push(copy);
    }
    for (let i = stream.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [stream[i], stream[j]] = [stream[j]!, stream[i]!];
    }

    // Random batches; groups of them sent at the same time; NDJSON or GraphQL.
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < stream.length; ) {
      const size = int(1, 300);
      batches.push(stream.slice(i, i + size));
      i += size;
    }
    const answers: UsageAnswer[] = [];
    for (let b = 0; b < batches.length; ) {
      const group = batches.slice(b, b + int(1, 4));
      b += group.length;
      answers.push(
        ...(await Promise.all(
          group.map(async (batch) =>
            rnd() < 0.7
              ? (await postUsage(hub, batch)).body
              : // GraphQL's Float takes numbers only; NDJSON takes decimal strings too.
                recordUsage(hub, batch.map((e) => ({ ...e, quantity: Number(e.quantity) }))),
          ),
        )),
      );
    }
    const context = `seed ${seed} (EHUB_TEST_SEED=${seed} replays it)`;
    const total = (k: 'accepted' | 'duplicates' | 'conflicts') => answers.reduce((n, a) => n + a[k], 0);
    expect({ context, accepted: total('accepted'), duplicates: total('duplicates'), conflicts: total('conflicts'), rejected: answers.flatMap((a) => a.rejected) }).toEqual({
      context,
      accepted: UNIQUE_EVENTS,
      duplicates: resends,
      conflicts: 0,
      rejected: [],
    });

    // (1) The stored rollups equal a rebuild from usage_event...
    const stored = await storedRollups(hub.ds);
    expect(stored.rollups.length).toBeGreaterThan(100);
    expect(stored).toEqual(await recomputedRollups(hub.ds));
    // ...and running the rebuild itself changes nothing.
    await hub.services.db.tx(systemContext(pino({ level: 'silent' }), 'test:rebuild'), (tx) => hub.services.usage.recomputeRollups(tx.manager));
    expect(await storedRollups(hub.ds)).toEqual(stored);

    // (2) An independent computation from the generated events (entitlements merged).
    const meterId = await meterIds(hub);
    type Agg = { sum: bigint; count: number; max: bigint; latestAt: number; latest: bigint; unique: Set<string> };
    const expected = new Map<string, Agg>();
    for (const g of generated) {
      for (const [gran, size] of [['H', 3_600_000], ['D', 86_400_000]] as const) {
        const key = [g.account, meterId[g.meter.key], gran, new Date(Math.floor(g.at / size) * size).toISOString(), g.deployment].join('|');
        const a = expected.get(key) ?? { sum: 0n, count: 0, max: g.value, latestAt: -Infinity, latest: 0n, unique: new Set<string>() };
        a.sum += g.value;
        a.count++;
        if (g.value > a.max) a.max = g.value;
        if (g.at > a.latestAt || (g.at === a.latestAt && g.value > a.latest)) {
          a.latestAt = g.at;
          a.latest = g.value;
        }
        if (g.unique !== null) a.unique.add(g.unique);
        expected.set(key, a);
      }
    }
    const actual: { k: string; sum: string; count: number; max: string; latest: string; distinct: number }[] = await hub.ds.query(`
      SELECT concat_ws('|', r.account_id, r.meter_id, r.granularity, to_char(r.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), r.deployment) AS k,
             trim_scale(sum(r.sum))::text AS sum, sum(r.count)::int AS count, trim_scale(max(r.max))::text AS max,
             trim_scale((array_agg(r.latest_value ORDER BY r.latest_at DESC, r.latest_value DESC))[1])::text AS latest,
             (SELECT count(DISTINCT u.value)::int FROM usage_unique u
               WHERE (u.account_id, u.meter_id, u.granularity, u.bucket, u.deployment) = (r.account_id, r.meter_id, r.granularity, r.bucket, r.deployment)) AS distinct
        FROM usage_rollup r
       GROUP BY r.account_id, r.meter_id, r.granularity, r.bucket, r.deployment
       ORDER BY 1`);
    const fromTest = [...expected.entries()]
      .map(([k, a]) => ({ k, sum: milli(a.sum), count: a.count, max: milli(a.max), latest: milli(a.latest), distinct: a.unique.size }))
      .sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
    expect({ context, rows: actual.length }).toEqual({ context, rows: fromTest.length });
    for (let i = 0; i < fromTest.length; i++) {
      if (JSON.stringify(actual[i]) !== JSON.stringify(fromTest[i])) expect({ context, row: actual[i] }).toEqual({ context, row: fromTest[i] });
    }
    // Entitled usage was attributed (the grants above cover part of the stream).
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event WHERE entitlement_id IS NOT NULL`);
    expect(n).toBeGreaterThan(0);
  });
});
