import type { TestHub } from '../support/test-hub';

/** A date `days` from today (UTC), as YYYY-MM-DD. */
export const day = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

export interface CertificateWorld {
  accountId: string;
  otherAccountId: string;
  /** SUBSCRIPTION of CAD-SUB × 3, running now. */
  subscriptionId: string;
  /** DEVICE_LOCKED CAD-NODE × 2, running now. */
  deviceLockedId: string;
  /** A subscription that ended 40 days ago. */
  expiredId: string;
  /** A subscription starting in 30 days. */
  futureId: string;
  /** The other account's subscription. */
  otherSubscriptionId: string;
}

export const ISSUE = `mutation Issue($accountId: ID, $entitlementId: ID, $deviceFingerprint: String, $ttl: Int) {
  issueCertificate(accountId: $accountId, entitlementId: $entitlementId, deviceFingerprint: $deviceFingerprint, ttl: $ttl) {
    certificate kid jti issuedAt expiresAt payload
  }
}`;

export interface IssuedCertificate {
  certificate: string;
  kid: string;
  jti: string;
  issuedAt: string;
  expiresAt: string;
  payload: {
    sub: string;
    account: { id: string; name: string };
    device: string | null;
    iat: number;
    exp: number;
    jti: string;
    entitlements: { id: string; sku: string; model: string; status: string; quantity: number; features: { key: string; limit: string | null }[] }[];
  };
}

export async function issue(hub: TestHub, vars: Record<string, unknown>, key?: string): Promise<IssuedCertificate> {
  return (await hub.ok<{ issueCertificate: IssuedCertificate }>(ISSUE, vars, key)).issueCertificate;
}

/** Catalog, two accounts and their entitlements, all created over GraphQL (orders through submitOrder). */
export async function seedCertificateWorld(hub: TestHub): Promise<CertificateWorld> {
  for (const key of ['cad.render', 'cad.export', 'cad.node']) {
    await hub.ok(`mutation ($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }`, { i: { key, name: key } });
  }
  const product = (sku: string, defaultModel: string, features: { key: string; limit: number | null }[]) =>
    hub.ok(`mutation ($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }`, {
      i: { sku, name: sku, kind: 'SOFTWARE', defaultModel, listPrice: { amountMinor: '10000', currency: 'USD' }, features },
    });
  await product('CAD-SUB', 'SUBSCRIPTION', [
    { key: 'cad.render', limit: 2 },
    { key: 'cad.export', limit: null },
  ]);
  await product('CAD-NODE', 'DEVICE_LOCKED', [{ key: 'cad.node', limit: 1 }]);

  const account = async (name: string) =>
    (await hub.ok<{ upsertAccount: { id: string } }>(`mutation ($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }`, { i: { name } })).upsertAccount.id;
  const accountId = await account('Acme Robotics');
  const otherAccountId = await account('Globex');

  const line = (lineNo: number, sku: string, quantity: number, startDate: string, endDate: string) => ({
    lineNo,
    sku,
    quantity,
    unitPrice: '10000',
    startDate,
    endDate,
  });
  const order = async (accId: string, externalId: string, lines: ReturnType<typeof line>[]) =>
    (
      await hub.ok<{ submitOrder: { entitlements: { id: string; sku: string; startDate: string }[] } }>(
        `mutation ($i: OrderInput!) { submitOrder(input: $i) { entitlements { id sku startDate } } }`,
        { i: { source: 'manual', externalId, accountId: accId, orderDate: day(-60), currency: 'USD', lines } },
      )
    ).submitOrder.entitlements;

  const ents = await order(accountId, 'SO-CERT-1', [
    line(1, 'CAD-SUB', 3, day(-30), day(335)),
    line(2, 'CAD-NODE', 2, day(-30), day(335)),
    line(3, 'CAD-SUB', 1, day(-400), day(-40)),
    line(4, 'CAD-SUB', 1, day(30), day(395)),
  ]);
  const find = (sku: string, startDate: string) => ents.find((e) => e.sku === sku && e.startDate === startDate)!.id;
  const [other] = await order(otherAccountId, 'SO-CERT-2', [line(1, 'CAD-SUB', 1, day(-30), day(700))]);
  return {
    accountId,
    otherAccountId,
    subscriptionId: find('CAD-SUB', day(-30)),
    deviceLockedId: find('CAD-NODE', day(-30)),
    expiredId: find('CAD-SUB', day(-400)),
    futureId: find('CAD-SUB', day(30)),
    otherSubscriptionId: other!.id,
  };
}

/** Activates a device on a DEVICE_LOCKED entitlement (activateDevice). */
export async function activate(hub: TestHub, entitlementId: string, fingerprint: string): Promise<void> {
  await hub.ok(`mutation ($e: ID!, $f: String!) { activateDevice(entitlementId: $e, fingerprint: $f) { id } }`, { e: entitlementId, f: fingerprint });
}

/** Deactivates it (deactivateDevice). */
export async function deactivate(hub: TestHub, entitlementId: string, fingerprint: string): Promise<void> {
  await hub.ok(`mutation ($e: ID!, $f: String!) { deactivateDevice(entitlementId: $e, fingerprint: $f) { id } }`, { e: entitlementId, f: fingerprint });
}

export async function fetchJwks(hub: TestHub): Promise<{ status: number; cacheControl: string | null; body: { keys: Record<string, string>[] } }> {
  const res = await fetch(`${hub.url}/.well-known/jwks.json`);
  return { status: res.status, cacheControl: res.headers.get('cache-control'), body: (await res.json()) as { keys: Record<string, string>[] } };
}
