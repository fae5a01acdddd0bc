import type { BenchContext, Scenario } from '../support/types';

export const CHECK_QUERY = `query Check($a: ID!, $f: String!, $d: String) {
  check(accountId: $a, feature: $f, quantity: 1, deviceFingerprint: $d) { allowed code remaining entitlementId expiresAt }
}`;

/**
 * The licensing hot path: `check` for a device-locked entitlement with an activated device,
 * on an account that also holds other entitlements (so the ranking has work to do). One SQL
 * statement per check; compare with `trivial` (the same stack with no database work).
 */
export const check: Scenario = {
  name: 'check',
  description: 'check(accountId, feature, quantity, deviceFingerprint) over HTTP: one indexed statement, shared by concurrent checks',
  async run(ctx) {
    const { variables, expectBody } = await prepareCheck(ctx);
    return ctx.load({
      url: ctx.hub.url,
      headers: { authorization: `Bearer ${ctx.hub.adminKey}` },
      body: JSON.stringify({ query: CHECK_QUERY, variables, operationName: 'Check' }),
      expectBody,
    });
  },
};

/**
 * The data every `check` load uses: 200 accounts with three entitlements each and activated
 * devices; returns the measured account's variables and the exact answer every check must get.
 */
export function prepareCheck(ctx: BenchContext): Promise<{ variables: Record<string, string>; expectBody: string }> {
  // Once per run: scenarios that measure `check` another way share the data.
  let prepared = PREPARED.get(ctx.hub);
  if (!prepared) PREPARED.set(ctx.hub, (prepared = seedCheck(ctx)));
  return prepared;
}

const PREPARED = new WeakMap<object, Promise<{ variables: Record<string, string>; expectBody: string }>>();

async function seedCheck(ctx: BenchContext): Promise<{ variables: Record<string, string>; expectBody: string }> {
    const post = ctx.hub.post.bind(ctx.hub);
    const must = async <T>(q: string, v: Record<string, unknown>): Promise<T> => {
      const r = await post(q, v);
      const body = JSON.parse(r.text) as { data?: T; errors?: unknown[] };
      if (r.status !== 200 || body.errors?.length) throw new Error(`check setup failed: ${r.text}`);
      return body.data as T;
    };
    for (const key of ['chk.design', 'chk.render', 'chk.api']) {
      await must('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
    }
    const product = (sku: string, model: string, features: unknown[]) =>
      must('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
        i: { sku, name: sku, kind: 'SOFTWARE', listPrice: { amountMinor: 10000, currency: 'USD' }, defaultModel: model, features },
      });
    await product('CHK-NODE', 'DEVICE_LOCKED', [{ key: 'chk.design', limit: 1 }, { key: 'chk.render', limit: 1 }]);
    await product('CHK-SUB', 'SUBSCRIPTION', [{ key: 'chk.design', limit: 1 }]);
    await product('CHK-API', 'METERED', [{ key: 'chk.api', limit: 1_000_000 }]);
    // Many accounts, so the index matters; the measured one holds several entitlements.
    let target = '';
    for (let a = 0; a < 200; a++) {
      const { upsertAccount } = await must<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
        i: { name: `Check ${a}` },
      });
      const lines = [
        { lineNo: 1, sku: 'CHK-NODE', quantity: 10, unitPrice: 10000, startDate: '2026-01-01', endDate: '2099-12-31' },
        { lineNo: 2, sku: 'CHK-SUB', quantity: 5, unitPrice: 10000, startDate: '2025-01-01', endDate: '2025-12-31' },
        { lineNo: 3, sku: 'CHK-API', quantity: 1, unitPrice: 10000, startDate: '2026-01-01', endDate: '2099-12-31' },
      ];
      const { submitOrder } = await must<{ submitOrder: { entitlements: { id: string; sku: string }[] } }>(
        'mutation($i: OrderInput!) { submitOrder(input: $i) { entitlements { id sku } } }',
        { i: { source: 'bench', externalId: `CHK-${a}`, accountId: upsertAccount.id, orderDate: '2026-01-01', currency: 'USD', lines } },
      );
      const node = submitOrder.entitlements.find((e) => e.sku === 'CHK-NODE')!;
      for (let d = 0; d < 3; d++) {
        await must('mutation($e: ID!, $f: String!) { activateDevice(entitlementId: $e, fingerprint: $f) { id } }', { e: node.id, f: `dev-${a}-${d}` });
      }
      if (a === 100) target = upsertAccount.id;
    }
    const variables = { a: target, f: 'chk.design', d: 'dev-100-1' };
    const probe = await post(CHECK_QUERY, variables);
    const parsed = JSON.parse(probe.text) as { data?: { check?: { allowed: boolean; code: string } }; errors?: unknown[] };
    if (probe.status !== 200 || parsed.errors?.length || !parsed.data?.check?.allowed || parsed.data.check.code !== 'VALID') {
      throw new Error(`check: the probe request failed (${probe.status}): ${probe.text}`);
    }
  return { variables, expectBody: probe.text };
}
