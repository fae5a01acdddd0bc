import type { BenchContext, Scenario } from '../support/types';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const ACCOUNTS = 100;

async function must<T>(ctx: BenchContext, q: string, v: Record<string, unknown>): Promise<T> {
  const r = await ctx.hub.post(q, v);
  const body = JSON.parse(r.text) as { data?: T; errors?: unknown[] };
  if (r.status !== 200 || body.errors?.length) throw new Error(`device-update setup failed: ${r.text}`);
  return body.data as T;
}

/**
 * Issue 14 part 3: device update polls (GET /v1/devices/<id>/update) by 10,000 devices
 * (BENCH_DEVICES), each with its own update token, spread over 100 accounts. The product has
 * releases 2.3.0 and 2.4.0 (one artifact each); devices say they run 2.3.0, so every poll runs
 * the whole path: token check, the poll recorded, the releases, the entitlement and terms
 * loaded, the rule decided, rollout asked, artifacts and one fresh signed link written to the
 * download log. Compare with `check` in the same run. Activations and tokens are seeded with
 * set-based SQL (token `ehd_bench_<n>`, its SHA-256 stored as activateDevice does).
 */
export const deviceUpdate: Scenario = {
  name: 'device-update',
  description: `GET /v1/devices/<id>/update by ${DEVICES} devices, each with its token: decide, offer 2.4.0 with a fresh link`,
  async run(ctx) {
    const ds = ctx.hub.services.db.ds;
    const origin = new URL(ctx.hub.url).origin;
    await must(ctx, 'mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key: 'du.ota', name: 'OTA' } });
    await must(ctx, 'mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku: 'DU-FW', name: 'DU firmware', kind: 'SOFTWARE', listPrice: { amountMinor: 10000, currency: 'USD' }, defaultModel: 'DEVICE_LOCKED', features: [{ key: 'du.ota', limit: 1 }] },
    });
    const perAccount = Math.ceil(DEVICES / ACCOUNTS);
    const entitlements: string[] = [];
    for (let a = 0; a < ACCOUNTS; a++) {
      const { upsertAccount } = await must<{ upsertAccount: { id: string } }>(ctx, 'mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', { i: { name: `Fleet ${a}` } });
      const { submitOrder } = await must<{ submitOrder: { entitlements: { id: string }[] } }>(ctx, 'mutation($i: OrderInput!) { submitOrder(input: $i) { entitlements { id } } }', {
        i: {
          source: 'bench',
          externalId: `DU-${a}`,
          accountId: upsertAccount.id,
          orderDate: '2026-01-01',
          currency: 'USD',
          lines: [{ lineNo: 1, sku: 'DU-FW', quantity: perAccount, unitPrice: 10000, startDate: '2026-01-01', endDate: '2099-12-31', terms: { maintenanceEnd: '2099-12-31', afterExpiry: 'RESTRICT_TO_RELEASED' } }],
        },
      });
      entitlements.push(submitOrder.entitlements[0]!.id);
    }
    const rows: { id: string; n: number }[] = await ds.query(
      `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, update_token_hash)
       SELECT e.id, e.account_id, 'du-' || g, 'linux', now(), now(), encode(sha256(convert_to('ehd_bench_' || g, 'UTF8')), 'hex')
         FROM generate_series(0, $2::int - 1) g JOIN entitlement e ON e.id = ($1::uuid[])[(g % $3::int) + 1]
       RETURNING id, substr(fingerprint, 4)::int AS n`,
      [entitlements, DEVICES, ACCOUNTS],
    );
    await ds.query('ANALYZE activation');
    for (const [version, date] of [['2.3.0', '2026-02-01T00:00:00Z'], ['2.4.0', '2026-03-01T00:00:00Z']] as const) {
      const { upsertRelease } = await must<{ upsertRelease: { id: string } }>(ctx, 'mutation($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }', {
        i: { product: 'DU-FW', version, status: 'PUBLISHED', releaseDate: date, requiredFeatures: ['du.ota'] },
      });
      const up = await fetch(`${origin}/v1/releases/${upsertRelease.id}/artifacts/du-fw-${version}.img?platform=linux&arch=arm64`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ctx.hub.adminKey}`, 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(64 * 1024, 7),
      });
      if (up.status !== 201) throw new Error(`upload answered ${up.status}: ${await up.text()}`);
    }
    const path = (id: string) => `/v1/devices/${id}/update?current=2.3.0&channel=stable&arch=arm64`;
    const probe = await fetch(origin + path(rows[0]!.id), { headers: { authorization: `Bearer ehd_bench_${rows[0]!.n}` } });
    const offer = (await probe.json()) as { release?: { version: string }; artifacts?: { url: string }[] };
    if (probe.status !== 200 || offer.release?.version !== '2.4.0' || offer.artifacts?.length !== 1) throw new Error(`device-update: the probe poll failed (${probe.status}): ${JSON.stringify(offer)}`);
    // Devices in a shuffled order, so connections do not walk the table in insertion order.
    const order = rows.map((r, i) => ({ r, k: (i * 7919) % rows.length })).sort((a, b) => a.k - b.k).map((x) => x.r);
    return ctx.load({
      url: origin,
      method: 'GET',
      requests: order.map((r) => ({ method: 'GET' as const, path: path(r.id), headers: { authorization: `Bearer ehd_bench_${r.n}` } })),
    });
  },
};
