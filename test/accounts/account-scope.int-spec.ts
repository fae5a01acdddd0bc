import { gqlError, startTestHub, type GqlResponse, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { grant, seedLicensingCatalog } from '../licensing/licensing-support';

/**
 * The account-scope walk: a key scoped to account A (an ADMIN key, so its role never
 * explains a refusal) calls every operation that takes an account, or a record of an
 * account, pointing at account B. Each must answer NOT_FOUND (B's data is invisible) or
 * FORBIDDEN (hub-wide changes), leak none of B's ids, and change nothing in the database.
 *
 * Later domains: seed B's records in `seed()` (add fields to `Side`) and append rows to
 * `cases`; the database snapshot covers every table automatically.
 */

let hub: TestHub;

interface Side {
  accountId: string;
  name: string;
  accountRef: { system: string; object: string; externalId: string };
  contactId: string;
  contactRef: { system: string; object: string; externalId: string };
  keyId: string;
}

interface World {
  a: Side;
  b: Side;
  /** ADMIN key scoped to account A. */
  scopedKey: string;
  /** B's licensing records: entitlements by model, an activated device, an assigned seat, a live lease. */
  licB: { device: string; seat: string; float: string; leaseId: string; orderId: string; orderExternalId: string };
  /** The product of B's NAMED_USER entitlement (a hub-wide record), set in beforeAll. */
  seatProductId?: string;
  /** B's compliance finding (unentitled use), set in beforeAll. */
  complianceB?: { findingId: string };
  /** B's webhook endpoint (scoped to B) and a delivery to it, set in beforeAll. */
  webhookB?: { endpointId: string; deliveryId: string };
}

type Expectation =
  | { error: 'NOT_FOUND' | 'FORBIDDEN' | 'CONFLICT'; subCode?: string }
  | { check: (data: Record<string, unknown>, w: World) => void };

interface ScopeCase {
  name: string;
  query: string;
  variables?: (w: World) => Record<string, unknown>;
  expect: Expectation;
  /** A mutation that answers (per-item refusals) and so records its call: only audit_log may change. */
  writesAudit?: boolean;
}

const nodeIds = (conn: unknown) => (conn as { edges: { node: { id: string } }[] }).edges.map((e) => e.node.id);

const cases: ScopeCase[] = [
  // ── accounts: reads ──
  {
    name: 'accounts lists only A',
    query: `{ accounts(first: 500) { totalCount edges { node { id } } } }`,
    expect: {
      check: (d, w) => {
        expect(nodeIds(d.accounts)).toEqual([w.a.accountId]);
        expect((d.accounts as { totalCount: number }).totalCount).toBe(1);
      },
    },
  },
  {
    name: 'accounts searching B finds nothing',
    query: `query ($s: String) { accounts(search: $s) { totalCount } }`,
    variables: (w) => ({ s: w.b.accountRef.externalId }),
    expect: { check: (d) => expect(d.accounts).toEqual({ totalCount: 0 }) },
  },
  {
    name: 'account(id: B)',
    query: `query ($id: ID!) { account(id: $id) { id } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "accountByExternalRef(B's reference)",
    query: `query ($s: String!, $o: String!, $e: String!) { accountByExternalRef(system: $s, object: $o, externalId: $e) { id } }`,
    variables: (w) => ({ s: w.b.accountRef.system, o: w.b.accountRef.object, e: w.b.accountRef.externalId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'contacts(accountId: B)',
    query: `query ($id: ID!) { contacts(accountId: $id) { totalCount } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  // ── accounts: writes ──
  {
    name: 'upsertAccount(id: B)',
    query: `mutation ($id: ID!) { upsertAccount(input: { id: $id, name: "Hijacked" }) { id } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'upsertAccount creating a new account',
    query: `mutation { upsertAccount(input: { name: "New from scoped key" }) { id } }`,
    expect: { error: 'FORBIDDEN', subCode: 'AUTH_ACCOUNT_SCOPED_KEY' },
  },
  {
    name: "upsertAccount matching B's reference (B is invisible, so this would create)",
    query: `mutation ($ref: ExternalRefInput!) { upsertAccount(input: { name: "Hijacked", externalRefs: [$ref] }) { id } }`,
    variables: (w) => ({ ref: w.b.accountRef }),
    expect: { error: 'FORBIDDEN', subCode: 'AUTH_ACCOUNT_SCOPED_KEY' },
  },
  {
    name: "upsertAccount(id: A) linking B's reference",
    query: `mutation ($id: ID!, $name: String!, $ref: ExternalRefInput!) { upsertAccount(input: { id: $id, name: $name, externalRefs: [$ref] }) { id } }`,
    variables: (w) => ({ id: w.a.accountId, name: w.a.name, ref: w.b.accountRef }),
    expect: { error: 'CONFLICT', subCode: 'EXTERNAL_REF_TAKEN' },
  },
  {
    name: 'archiveAccount(B)',
    query: `mutation ($id: ID!) { archiveAccount(id: $id) { id } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'restoreAccount(B)',
    query: `mutation ($id: ID!) { restoreAccount(id: $id) { id } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  // ── contacts ──
  {
    name: 'upsertContact(accountId: B)',
    query: `mutation ($id: ID!) { upsertContact(input: { accountId: $id, email: "spy@a.io" }) { id } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "upsertContact(accountId: A) linking B's contact reference",
    query: `mutation ($id: ID!, $ref: ExternalRefInput!) { upsertContact(input: { accountId: $id, email: "spy@a.io", externalRefs: [$ref] }) { id } }`,
    variables: (w) => ({ id: w.a.accountId, ref: w.b.contactRef }),
    expect: { error: 'CONFLICT', subCode: 'EXTERNAL_REF_TAKEN' },
  },
  {
    name: "removeContact(B's contact)",
    query: `mutation ($id: ID!) { removeContact(id: $id) { id } }`,
    variables: (w) => ({ id: w.b.contactId }),
    expect: { error: 'NOT_FOUND', subCode: 'CONTACT_NOT_FOUND' },
  },
  // ── API keys ──
  {
    name: 'apiKeys lists only keys of A',
    query: `{ apiKeys(first: 500) { edges { node { id accountId } } } }`,
    expect: {
      check: (d, w) => {
        const keys = (d.apiKeys as { edges: { node: { id: string; accountId: string | null } }[] }).edges.map((e) => e.node);
        expect(keys.length).toBeGreaterThan(0);
        expect(keys.every((k) => k.accountId === w.a.accountId)).toBe(true);
      },
    },
  },
  {
    name: 'createApiKey(accountId: B)',
    query: `mutation ($id: String!) { createApiKey(input: { name: "spy", role: ADMIN, accountId: $id }) { key } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "revokeApiKey(B's key)",
    query: `mutation ($id: ID!) { revokeApiKey(id: $id) { id } }`,
    variables: (w) => ({ id: w.b.keyId }),
    expect: { error: 'NOT_FOUND' },
  },
  // ── certificates ──
  {
    name: 'issueCertificate(accountId: B)',
    query: `mutation ($id: ID!) { issueCertificate(accountId: $id) { certificate } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  // ── licensing ──
  {
    name: 'check(accountId: B)',
    query: `query ($id: ID!) { check(accountId: $id, feature: "lic.api") { allowed entitlementId } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'consume(accountId: B)',
    query: `mutation ($id: ID!) { consume(input: { accountId: $id, feature: "lic.api", quantity: 1, idempotencyKey: "spy" }) { allowed } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'consume(accountId: B) replaying B\'s idempotency key',
    query: `mutation ($id: ID!) { consume(input: { accountId: $id, feature: "lic.api", quantity: 1, idempotencyKey: "b-1" }) { allowed } }`,
    variables: (w) => ({ id: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "activateDevice(B's entitlement)",
    query: `mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "spy") { id } }`,
    variables: (w) => ({ e: w.licB.device }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "activateDevice(B's entitlement, B's device: no refresh)",
    query: `mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "fp-b") { id } }`,
    variables: (w) => ({ e: w.licB.device }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "deactivateDevice(B's device)",
    query: `mutation ($e: ID!) { deactivateDevice(entitlementId: $e, fingerprint: "fp-b") { id } }`,
    variables: (w) => ({ e: w.licB.device }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "assignSeat(B's entitlement)",
    query: `mutation ($e: ID!) { assignSeat(entitlementId: $e, email: "spy@a.io") { id } }`,
    variables: (w) => ({ e: w.licB.seat }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "releaseSeat(B's seat)",
    query: `mutation ($e: ID!) { releaseSeat(entitlementId: $e, email: "user@b.io") { id } }`,
    variables: (w) => ({ e: w.licB.seat }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "checkoutLease(B's entitlement)",
    query: `mutation ($e: ID!) { checkoutLease(entitlementId: $e, holder: "spy") { id } }`,
    variables: (w) => ({ e: w.licB.float }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "heartbeatLease(B's lease)",
    query: `mutation ($id: ID!) { heartbeatLease(leaseId: $id) { id } }`,
    variables: (w) => ({ id: w.licB.leaseId }),
    expect: { error: 'NOT_FOUND', subCode: 'LEASE_NOT_FOUND' },
  },
  {
    name: "checkinLease(B's lease)",
    query: `mutation ($id: ID!) { checkinLease(leaseId: $id) { id } }`,
    variables: (w) => ({ id: w.licB.leaseId }),
    expect: { error: 'NOT_FOUND', subCode: 'LEASE_NOT_FOUND' },
  },
  // ── orders and entitlements ──
  {
    name: 'submitOrder(accountId: B)',
    query: `mutation ($a: ID!) { submitOrder(input: { source: "scope", externalId: "SCOPE-1", accountId: $a, orderDate: "2027-01-01", currency: "USD",
      lines: [{ lineNo: 1, sku: "L-SEAT", quantity: 1, unitPrice: 100, startDate: "2027-01-01", endDate: "2027-12-31" }] }) { id } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "submitOrder(accountRef: B's reference)",
    query: `mutation ($r: ExternalRefInput!) { submitOrder(input: { source: "scope", externalId: "SCOPE-2", accountRef: $r, orderDate: "2027-01-01", currency: "USD",
      lines: [{ lineNo: 1, sku: "L-SEAT", quantity: 1, unitPrice: 100, startDate: "2027-01-01", endDate: "2027-12-31" }] }) { id } }`,
    variables: (w) => ({ r: w.b.accountRef }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "replaying B's order with A's key",
    query: `mutation ($a: ID!, $x: String!) { submitOrder(input: { source: "licensing-test", externalId: $x, accountId: $a, orderDate: "2027-01-01", currency: "USD",
      lines: [{ lineNo: 1, sku: "L-SEAT", quantity: 1, unitPrice: 100, startDate: "2027-01-01", endDate: "2027-12-31" }] }) { id } }`,
    variables: (w) => ({ a: w.a.accountId, x: w.licB.orderExternalId }),
    expect: { error: 'NOT_FOUND', subCode: 'ORDER_NOT_FOUND' },
  },
  {
    name: "order(B's order)",
    query: `query ($id: ID!) { order(id: $id) { id } }`,
    variables: (w) => ({ id: w.licB.orderId }),
    expect: { error: 'NOT_FOUND', subCode: 'ORDER_NOT_FOUND' },
  },
  {
    name: 'orders(accountId: B)',
    query: `query ($a: ID) { orders(accountId: $a) { totalCount } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'orders lists none of B',
    query: `{ orders(first: 500) { totalCount } }`,
    expect: { check: (d) => expect(d.orders).toEqual({ totalCount: 0 }) },
  },
  {
    name: "entitlement(B's entitlement)",
    query: `query ($id: ID!) { entitlement(id: $id) { id } }`,
    variables: (w) => ({ id: w.licB.seat }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: 'entitlements(filter: { accountId: B })',
    query: `query ($a: ID) { entitlements(filter: { accountId: $a }) { totalCount } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'entitlements lists none of B',
    query: `{ entitlements(first: 500) { totalCount } }`,
    expect: { check: (d) => expect(d.entitlements).toEqual({ totalCount: 0 }) },
  },
  {
    name: "suspendEntitlement(B's entitlement)",
    query: `mutation ($id: ID!) { suspendEntitlement(id: $id, reason: "x") { id } }`,
    variables: (w) => ({ id: w.licB.seat }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "resumeEntitlement(B's entitlement)",
    query: `mutation ($id: ID!) { resumeEntitlement(id: $id) { id } }`,
    variables: (w) => ({ id: w.licB.seat }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "issueCertificate(entitlementId: B's entitlement)",
    query: `mutation ($id: ID!) { issueCertificate(entitlementId: $id) { certificate } }`,
    variables: (w) => ({ id: w.licB.seat }),
    expect: { error: 'NOT_FOUND' },
  },
  // ── compliance ──
  {
    name: 'complianceFindings(filter: { accountId: B })',
    query: `query ($a: ID) { complianceFindings(filter: { accountId: $a }) { totalCount } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'complianceFindings lists none of B',
    query: `{ complianceFindings(first: 100) { totalCount leakageTotals { amountMinor } edges { node { id accountId } } } }`,
    expect: { check: (d) => expect(d.complianceFindings).toEqual({ totalCount: 0, leakageTotals: [], edges: [] }) },
  },
  {
    name: 'runCompliance(B)',
    query: `mutation ($a: ID!) { runCompliance(accountId: $a) { opened } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "setComplianceFindingStatus(B's finding)",
    query: `mutation ($id: ID!) { setComplianceFindingStatus(id: $id, status: RESOLVED, note: "x") { id } }`,
    variables: (w) => ({ id: w.complianceB!.findingId }),
    expect: { error: 'NOT_FOUND', subCode: 'COMPLIANCEFINDING_NOT_FOUND' },
  },
  {
    name: 'notifications(accountId: B)',
    query: `query ($a: ID) { notifications(accountId: $a) { totalCount } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'notifications lists none of B',
    query: `{ notifications(first: 100) { totalCount edges { node { id } } } }`,
    expect: { check: (d) => expect(d.notifications).toEqual({ totalCount: 0, edges: [] }) },
  },
  // ── webhooks ──
  {
    name: 'createWebhookEndpoint(accountId: B)',
    query: `mutation ($a: ID!) { createWebhookEndpoint(input: { url: "https://example.com/h", eventTypes: ["*"], accountId: $a }) { secret } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'webhookEndpoints lists none of B',
    query: `{ webhookEndpoints(first: 500, includeDisabled: true) { totalCount } }`,
    expect: { check: (d) => expect(d.webhookEndpoints).toEqual({ totalCount: 0 }) },
  },
  ...(
    [
      ['webhookEndpoint', `query ($id: ID!) { webhookEndpoint(id: $id) { id } }`],
      ['updateWebhookEndpoint', `mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { description: "x" }) { id } }`],
      ['disableWebhookEndpoint', `mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { id } }`],
      ['enableWebhookEndpoint', `mutation ($id: ID!) { enableWebhookEndpoint(id: $id) { id } }`],
      ['rotateWebhookSecret', `mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`],
      ['pingWebhookEndpoint', `mutation ($id: ID!) { pingWebhookEndpoint(id: $id) { id } }`],
      ['replayDeadWebhookDeliveries', `mutation ($id: ID!) { replayDeadWebhookDeliveries(endpointId: $id) }`],
    ] as const
  ).map(([op, query]): ScopeCase => ({
    name: `${op}(B's endpoint)`,
    query,
    variables: (w) => ({ id: w.webhookB!.endpointId }),
    expect: { error: 'NOT_FOUND', subCode: 'WEBHOOK_ENDPOINT_NOT_FOUND' },
  })),
  {
    name: "webhookDelivery(B's delivery)",
    query: `query ($id: ID!) { webhookDelivery(id: $id) { id } }`,
    variables: (w) => ({ id: w.webhookB!.deliveryId }),
    expect: { error: 'NOT_FOUND', subCode: 'WEBHOOK_DELIVERY_NOT_FOUND' },
  },
  {
    name: "replayWebhookDelivery(B's delivery)",
    query: `mutation ($id: ID!) { replayWebhookDelivery(id: $id) { id } }`,
    variables: (w) => ({ id: w.webhookB!.deliveryId }),
    expect: { error: 'NOT_FOUND', subCode: 'WEBHOOK_DELIVERY_NOT_FOUND' },
  },
  {
    name: 'webhookDeliveries(filter: { accountId: B })',
    query: `query ($a: ID) { webhookDeliveries(filter: { accountId: $a }) { totalCount } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "webhookDeliveries(filter: { endpointId: B's endpoint }) finds nothing",
    query: `query ($e: ID) { webhookDeliveries(filter: { endpointId: $e }) { totalCount } }`,
    variables: (w) => ({ e: w.webhookB!.endpointId }),
    expect: { check: (d) => expect(d.webhookDeliveries).toEqual({ totalCount: 0 }) },
  },
  {
    name: 'webhookDeliveries lists none of B',
    query: `{ webhookDeliveries(first: 500) { totalCount } }`,
    expect: { check: (d) => expect(d.webhookDeliveries).toEqual({ totalCount: 0 }) },
  },
  // ── usage analytics ──
  {
    name: 'usageSeries(filter: { accountId: B })',
    query: `query ($a: ID, $from: DateTimeISO!, $to: DateTimeISO!) { usageSeries(filter: { accountId: $a, meter: "scope.m" }, from: $from, to: $to) { unit } }`,
    variables: (w) => ({ a: w.b.accountId, ...lastDays(2) }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "usageSeries(filter: { entitlementId: B's entitlement })",
    query: `query ($e: ID, $from: DateTimeISO!, $to: DateTimeISO!) { usageSeries(filter: { entitlementId: $e }, from: $from, to: $to) { unit } }`,
    variables: (w) => ({ e: w.licB.seat, ...lastDays(2) }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: 'usageSeries counts none of B',
    query: `query ($from: DateTimeISO!, $to: DateTimeISO!) { usageSeries(filter: { meter: "scope.m" }, from: $from, to: $to, groupBy: [ACCOUNT]) { series { key { accountId } } } }`,
    variables: () => lastDays(2),
    expect: { check: (d) => expect(d.usageSeries).toEqual({ series: [] }) },
  },
  {
    name: 'utilization(accountId: B)',
    query: `query ($a: ID) { utilization(accountId: $a) { featureKey } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: "utilization(entitlementId: B's entitlement)",
    query: `query ($e: ID) { utilization(entitlementId: $e) { featureKey } }`,
    variables: (w) => ({ e: w.licB.float }),
    expect: { error: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' },
  },
  {
    name: "adoption(product B holds) counts none of B",
    query: `query ($p: ID!, $from: DateTimeISO!, $to: DateTimeISO!) { adoption(productId: $p, from: $from, to: $to) { features { entitledAccounts usingAccounts } } }`,
    variables: (w) => ({ p: w.seatProductId, ...lastDays(30) }),
    expect: { check: (d) => expect(d.adoption).toEqual({ features: [{ entitledAccounts: 0, usingAccounts: 0 }] }) },
  },
  {
    name: 'unusedEntitlements(accountId: B)',
    query: `query ($a: ID) { unusedEntitlements(accountId: $a) { totalCount } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
  {
    name: 'unusedEntitlements lists none of B',
    query: `{ unusedEntitlements(threshold: 100, first: 500) { edges { node { accountId } } } }`,
    expect: {
      check: (d, w) =>
        expect((d.unusedEntitlements as { edges: { node: { accountId: string } }[] }).edges.every((e) => e.node.accountId === w.a.accountId)).toBe(true),
    },
  },
  // ── usage ingestion ──
  {
    name: 'recordUsage with events of B (by id and by reference): each rejected as an unknown account',
    query: `mutation ($a: ID!, $ref: UsageAccountRefInput!, $t: DateTimeISO!) {
      recordUsage(events: [
        { id: "spy-1", accountId: $a, meter: "scope.m", quantity: 1, occurredAt: $t, deployment: CLOUD },
        { id: "spy-2", accountRef: $ref, meter: "scope.m", quantity: 1, occurredAt: $t, deployment: CLOUD }
      ]) { accepted duplicates rejected { index code } } }`,
    variables: (w) => ({ a: w.b.accountId, ref: w.b.accountRef, t: new Date(Date.now() - 60_000).toISOString() }),
    writesAudit: true,
    expect: {
      check: (d) =>
        expect(d.recordUsage).toEqual({
          accepted: 0,
          duplicates: 0,
          rejected: [
            { index: 0, code: 'UNKNOWN_ACCOUNT' },
            { index: 1, code: 'UNKNOWN_ACCOUNT' },
          ],
        }),
    },
  },
  {
    name: 'rebuildUsageRollups(accountId: B)',
    query: `mutation ($a: ID!) { rebuildUsageRollups(accountId: $a) { accountId } }`,
    variables: (w) => ({ a: w.b.accountId }),
    expect: { error: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' },
  },
];

/** [now − days, now) as usageSeries / adoption arguments. */
function lastDays(days: number) {
  return { from: new Date(Date.now() - days * 86_400_000).toISOString(), to: new Date().toISOString() };
}

/** B's webhook endpoint (registered by an unscoped admin for B) with a ping queued to it. */
async function seedWebhooks(accountId: string): Promise<World['webhookB']> {
  const { createWebhookEndpoint } = await hub.ok<{ createWebhookEndpoint: { endpoint: { id: string } } }>(
    `mutation ($a: ID!) { createWebhookEndpoint(input: { url: "https://example.com/b", eventTypes: ["*"], accountId: $a }) { endpoint { id } } }`,
    { a: accountId },
  );
  const endpointId = createWebhookEndpoint.endpoint.id;
  const { pingWebhookEndpoint } = await hub.ok<{ pingWebhookEndpoint: { id: string } }>(`mutation ($id: ID!) { pingWebhookEndpoint(id: $id) { id } }`, { id: endpointId });
  return { endpointId, deliveryId: pingWebhookEndpoint.id };
}

/** Every row of every table (as sorted JSON), minus columns that change on reads. */
async function snapshot(): Promise<Record<string, string[]>> {
  const tables: { table_name: string }[] = await hub.ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'migrations' ORDER BY 1`,
  );
  const out: Record<string, string[]> = {};
  for (const { table_name } of tables) {
    const rows: { r: string }[] = await hub.ds.query(`SELECT (to_jsonb(t) - 'last_used_at')::text AS r FROM "${table_name}" t ORDER BY 1`);
    out[table_name] = rows.map((x) => x.r);
  }
  return out;
}

async function seedSide(label: string): Promise<Side> {
  const accountRef = { system: 'salesforce', object: 'Account', externalId: `001SCOPE${label}` };
  const contactRef = { system: 'salesforce', object: 'Contact', externalId: `003SCOPE${label}` };
  const name = `Scope ${label}`;
  const { upsertAccount } = await hub.ok<{ upsertAccount: { id: string } }>(
    `mutation ($name: String!, $ref: ExternalRefInput!) { upsertAccount(input: { name: $name, externalRefs: [$ref] }) { id } }`,
    { name, ref: accountRef },
  );
  const { upsertContact } = await hub.ok<{ upsertContact: { id: string } }>(
    `mutation ($id: ID!, $ref: ExternalRefInput!) { upsertContact(input: { accountId: $id, email: "user@${label.toLowerCase()}.io", externalRefs: [$ref] }) { id } }`,
    { id: upsertAccount.id, ref: contactRef },
  );
  const { createApiKey } = await hub.ok<{ createApiKey: { apiKey: { id: string } } }>(
    `mutation ($id: String!) { createApiKey(input: { name: "key of ${label}", role: INTEGRATION, accountId: $id }) { apiKey { id } } }`,
    { id: upsertAccount.id },
  );
  return { accountId: upsertAccount.id, name, accountRef, contactId: upsertContact.id, contactRef, keyId: createApiKey.apiKey.id };
}

/** B's entitlements (through submitOrder) with a device, a seat, a lease and a metered balance. */
async function seedLicensing(accountId: string): Promise<World['licB']> {
  await seedLicensingCatalog(hub);
  const device = await grant(hub, accountId, { sku: 'L-DEV', quantity: 2 });
  const seat = await grant(hub, accountId, { sku: 'L-SEAT', quantity: 2 });
  const float = await grant(hub, accountId, { sku: 'L-FLOAT', quantity: 2 });
  await grant(hub, accountId, { sku: 'L-METER', quantity: 1 });
  await hub.ok(`mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "fp-b") { id } }`, { e: device });
  await hub.ok(`mutation ($e: ID!) { assignSeat(entitlementId: $e, email: "user@b.io") { id } }`, { e: seat });
  const { checkoutLease } = await hub.ok<{ checkoutLease: { id: string } }>(
    `mutation ($e: ID!) { checkoutLease(entitlementId: $e, holder: "b-host", ttlSeconds: 3600) { id } }`,
    { e: float },
  );
  await hub.ok(`mutation ($a: ID!) { consume(input: { accountId: $a, feature: "lic.api", quantity: 1, idempotencyKey: "b-1" }) { allowed } }`, { a: accountId });
  const [order] = await hub.ds.query(`SELECT o.id, o.external_id FROM sales_order o JOIN entitlement e ON e.order_id = o.id WHERE e.id = $1`, [seat]);
  return { device, seat, float, leaseId: checkoutLease.id, orderId: order.id, orderExternalId: order.external_id };
}

/** A compliance finding of B: usage of a feature B has no entitlement for, then a run. */
async function seedCompliance(accountId: string): Promise<World['complianceB']> {
  await hub.ok(`mutation { upsertFeature(input: { key: "scope.x", name: "x" }) { id } }`);
  await hub.ok(`mutation { upsertMeter(input: { key: "scope.m", name: "m", aggregation: SUM, unit: "u", featureKey: "scope.x" }) { id } }`);
  await hub.ok(`mutation ($a: ID!, $t: DateTimeISO!) { recordUsage(events: [{ id: "scope-1", accountId: $a, meter: "scope.m", quantity: 3, occurredAt: $t, deployment: CLOUD }]) { accepted } }`, {
    a: accountId,
    t: new Date(Date.now() - 3_600_000).toISOString(),
  });
  const { runCompliance } = await hub.ok<{ runCompliance: { findings: { id: string }[] } }>(`mutation ($a: ID!) { runCompliance(accountId: $a) { findings { id } } }`, { a: accountId });
  return { findingId: runCompliance.findings[0]!.id };
}

let world: World;

beforeAll(async () => {
  hub = await startTestHub();
  const a = await seedSide('A');
  const b = await seedSide('B');
  world = { a, b, scopedKey: await hub.createKey(Role.ADMIN, a.accountId, 'scoped admin of A'), licB: await seedLicensing(b.accountId) };
  world.complianceB = await seedCompliance(b.accountId);
  world.seatProductId = (await hub.ds.query(`SELECT product_id FROM entitlement WHERE id = $1`, [world.licB.seat]))[0].product_id;
  world.webhookB = await seedWebhooks(b.accountId);
});
afterAll(async () => hub?.close());

describe('a key scoped to account A cannot see or change account B', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const variables = c.variables?.(world) ?? {};
    const before = await snapshot();
    const res: GqlResponse = await hub.gql(c.query, variables, world.scopedKey);
    if ('error' in c.expect) {
      const err = gqlError(res);
      expect({ code: err.code, ...(c.expect.subCode ? { subCode: err.subCode } : {}) }).toEqual({ code: c.expect.error, ...(c.expect.subCode ? { subCode: c.expect.subCode } : {}) });
    } else {
      expect(res.errors).toBeUndefined();
      c.expect.check(res.data!, world);
    }
    // Nothing of B that the caller did not send may appear in the answer.
    const sent = JSON.stringify(variables);
    const answer = JSON.stringify(res);
    for (const secret of [world.b.accountId, world.b.contactId, world.b.keyId, world.b.name]) {
      if (!sent.includes(secret)) expect(answer).not.toContain(secret);
    }
    const after = await snapshot();
    if (c.writesAudit) {
      expect(after.audit_log!.length).toBeGreaterThan(before.audit_log!.length);
      delete after.audit_log;
      delete before.audit_log;
    }
    expect(after).toEqual(before);
  });
});

describe('a key scoped to account A works on A', () => {
  const key = () => world.scopedKey;

  it('reads A by id, by reference, its contacts and nested fields', async () => {
    const data = await hub.ok<{ account: { id: string; contacts: { totalCount: number } }; accountByExternalRef: { id: string } }>(
      `query ($id: ID!, $e: String!) {
         account(id: $id) { id contacts { totalCount } }
         accountByExternalRef(system: "salesforce", object: "Account", externalId: $e) { id }
       }`,
      { id: world.a.accountId, e: world.a.accountRef.externalId },
      key(),
    );
    expect(data.account).toEqual({ id: world.a.accountId, contacts: { totalCount: 1 } });
    expect(data.accountByExternalRef.id).toBe(world.a.accountId);
  });

  it('updates A by id and by its reference, and links a new reference', async () => {
    const byId = await hub.ok<{ upsertAccount: { id: string; name: string } }>(
      `mutation ($id: ID!) { upsertAccount(input: { id: $id, name: "Scope A renamed", segment: "SMB" }) { id name } }`,
      { id: world.a.accountId },
      key(),
    );
    expect(byId.upsertAccount).toEqual({ id: world.a.accountId, name: 'Scope A renamed' });
    const byRef = await hub.ok<{ upsertAccount: { id: string; externalRefs: unknown[] } }>(
      `mutation ($ref: ExternalRefInput!) { upsertAccount(input: { name: "Scope A", externalRefs: [$ref, { system: "netsuite", object: "customer", externalId: "A-1" }] }) { id externalRefs { externalId } } }`,
      { ref: world.a.accountRef },
      key(),
    );
    expect(byRef.upsertAccount.id).toBe(world.a.accountId);
    expect(byRef.upsertAccount.externalRefs).toHaveLength(2);
  });

  it('manages contacts of A and archives A', async () => {
    const { upsertContact } = await hub.ok<{ upsertContact: { id: string } }>(
      `mutation ($id: ID!) { upsertContact(input: { accountId: $id, email: "new@a.io" }) { id } }`,
      { id: world.a.accountId },
      key(),
    );
    await hub.ok(`mutation ($id: ID!) { removeContact(id: $id) { id } }`, { id: upsertContact.id }, key());
    const archived = await hub.ok<{ archiveAccount: { status: string } }>(`mutation ($id: ID!) { archiveAccount(id: $id) { status } }`, { id: world.a.accountId }, key());
    expect(archived.archiveAccount.status).toBe('ARCHIVED');
  });
});
