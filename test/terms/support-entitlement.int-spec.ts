import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, rowCounts, seedLicensingCatalog } from '../licensing/licensing-support';

/**
 * Contract terms and support entitlement (issue 14, ADR 0037), over HTTP against PostgreSQL:
 * a device under warranty, one out of warranty with support, one with neither; cases that run
 * out exactly at the limit under 50 concurrent recordSupportCase calls; renewals carrying
 * terms forward; bad input refused with nothing changed.
 */
let hub: TestHub;
let acme: string;
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  acme = await createAccount(hub, 'Support Inc');
  await hub.ok(`mutation ($i: SupportTierInput!) { upsertSupportTier(input: $i) { id } }`, {
    i: { key: 'gold', name: 'Gold', firstResponseMinutes: 60, resolutionMinutes: 480, coverageHours: '24x7' },
  });
});
afterAll(async () => hub?.close());

const ANSWER = `covered basis reason reasons explanation entitlementId accountId deviceSerial supportEnd warrantyStart warrantyEnd warrantyCoverage
  casesAllowed casesUsed casesRemaining level { key name firstResponseMinutes resolutionMinutes coverageHours }`;
const BY_SERIAL = `query ($s: String!) { supportEntitlement(deviceSerial: $s) { ${ANSWER} } }`;
const BY_ENTITLEMENT = `query ($e: ID!) { supportEntitlement(entitlementId: $e) { ${ANSWER} } }`;
const BY_ACCOUNT = `query ($a: ID!) { supportEntitlement(accountId: $a) { ${ANSWER} } }`;
const RECORD = `mutation ($i: RecordSupportCaseInput!) { recordSupportCase(input: $i) { id entitlementId casesUsed casesAllowed casesRemaining replayed } }`;
const GOLD = { key: 'gold', name: 'Gold', firstResponseMinutes: 60, resolutionMinutes: 480, coverageHours: '24x7' };

interface Answer {
  covered: boolean;
  basis: string | null;
  reason: string | null;
  reasons: string[];
  explanation: string;
  entitlementId: string | null;
  supportEnd: string | null;
  warrantyStart: string | null;
  warrantyEnd: string | null;
  casesRemaining: number | null;
  casesUsed: number | null;
  level: typeof GOLD | null;
}

/** `date` + `months` calendar months − 1 day, the last day of a warranty (computed here with Date arithmetic). */
function lastWarrantyDay(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1 + months, d - 1)).toISOString().slice(0, 10);
}

async function device(entitlementId: string, serial: string, shippedOn: string | null): Promise<void> {
  await hub.ok(`mutation ($e: ID!, $f: String!, $s: String, $d: LocalDate) { activateDevice(entitlementId: $e, fingerprint: $f, serial: $s, shippedOn: $d) { id serial shippedOn } }`, {
    e: entitlementId,
    f: `fp-${serial}`,
    s: serial,
    d: shippedOn,
  });
}

const ask = async (query: string, vars: Record<string, unknown>) => (await hub.ok<{ supportEntitlement: Answer }>(query, vars)).supportEntitlement;

describe('supportEntitlement by device serial', () => {
  it('a device under warranty (shipment basis): covered by WARRANTY until shipment + 12 months − 1 day, no support level', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', quantity: 5, terms: { warrantyBasis: 'SHIPMENT', warrantyMonths: 12, warrantyCoverage: 'parts and labour' } });
    const shipped = day(-30);
    await device(ent, 'SN-WARRANTY', shipped);
    const a = await ask(BY_SERIAL, { s: 'SN-WARRANTY' });
    expect(a).toMatchObject({
      covered: true,
      basis: 'WARRANTY',
      reason: null,
      reasons: ['NO_SUPPORT_LEVEL'],
      entitlementId: ent,
      warrantyStart: shipped,
      warrantyEnd: lastWarrantyDay(shipped, 12),
      warrantyCoverage: 'parts and labour',
      level: null,
      deviceSerial: 'SN-WARRANTY',
      accountId: acme,
    });
  });

  it('a device out of warranty with support: covered by SUPPORT with the level and SLA targets; WARRANTY_EXPIRED listed', async () => {
    const ent = await grant(hub, acme, {
      sku: 'L-DEV',
      startDate: day(-500),
      terms: { warrantyBasis: 'SHIPMENT', warrantyMonths: 12, supportLevel: 'gold', supportEnd: day(200) },
    });
    const shipped = day(-400);
    await device(ent, 'SN-SUPPORT', shipped);
    const a = await ask(BY_SERIAL, { s: 'SN-SUPPORT' });
    expect(a).toMatchObject({
      covered: true,
      basis: 'SUPPORT',
      reason: null,
      reasons: ['WARRANTY_EXPIRED'],
      supportEnd: day(200),
      warrantyEnd: lastWarrantyDay(shipped, 12),
      level: GOLD,
    });
  });

  it('a device with neither: not covered, WARRANTY_EXPIRED (order basis) then NO_SUPPORT_LEVEL; a lapsed support level reads SUPPORT_EXPIRED', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', startDate: day(-100), terms: { warrantyBasis: 'ORDER', warrantyMonths: 1 } });
    await device(ent, 'SN-NEITHER', null);
    const a = await ask(BY_SERIAL, { s: 'SN-NEITHER' });
    expect(a).toMatchObject({ covered: false, basis: null, reason: 'WARRANTY_EXPIRED', reasons: ['WARRANTY_EXPIRED', 'NO_SUPPORT_LEVEL'], warrantyStart: day(-100), warrantyEnd: lastWarrantyDay(day(-100), 1) });

    const lapsed = await grant(hub, acme, { sku: 'L-DEV', startDate: day(-100), terms: { supportLevel: 'gold', supportEnd: day(-5) } });
    await device(lapsed, 'SN-LAPSED', null);
    const b = await ask(BY_SERIAL, { s: 'SN-LAPSED' });
    expect(b).toMatchObject({ covered: false, reason: 'SUPPORT_EXPIRED', reasons: ['SUPPORT_EXPIRED', 'NO_WARRANTY'], supportEnd: day(-5), level: GOLD });
    // Recording a case for it is refused with the reason, and nothing is written.
    const before = await rowCounts(hub);
    const refused = await hub.gql(RECORD, { i: { deviceSerial: 'SN-LAPSED', idempotencyKey: 'lapsed-1' } });
    expect(gqlError(refused)).toMatchObject({ code: 'FORBIDDEN', subCode: 'SUPPORT_EXPIRED' });
    expect(await rowCounts(hub)).toEqual(before);
  });

  it('an activation date basis runs from the activation (today in UTC)', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', terms: { warrantyBasis: 'ACTIVATION', warrantyMonths: 24 } });
    await device(ent, 'SN-ACT', null);
    const today = new Date().toISOString().slice(0, 10);
    const a = await ask(BY_SERIAL, { s: 'SN-ACT' });
    expect(a).toMatchObject({ covered: true, basis: 'WARRANTY', warrantyStart: today, warrantyEnd: lastWarrantyDay(today, 24) });
  });
});

describe('recordSupportCase', () => {
  it('50 concurrent calls against 20 cases: exactly 20 recorded, 30 refused CASES_EXHAUSTED; a replay counts nothing', async () => {
    const ent = await grant(hub, acme, { sku: 'L-SUB', terms: { supportLevel: 'gold', casesAllowed: 20 } });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => hub.gql<{ recordSupportCase: { casesUsed: number } }>(RECORD, { i: { entitlementId: ent, idempotencyKey: `race-${i}`, subject: `case ${i}` } })));
    const ok = results.filter((r) => !r.errors);
    const refused = results.filter((r) => r.errors);
    expect(ok).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const r of refused) expect(gqlError(r)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'CASES_EXHAUSTED' });
    // Each success saw a distinct count, 1..20.
    expect(ok.map((r) => r.data!.recordSupportCase.casesUsed).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const [row] = await hub.ds.query('SELECT cases_used FROM entitlement_terms WHERE entitlement_id = $1', [ent]);
    expect(row.cases_used).toBe(20);
    const [cases] = await hub.ds.query('SELECT count(*)::int AS n FROM support_case WHERE entitlement_id = $1', [ent]);
    expect(cases.n).toBe(20);

    const a = await ask(BY_ENTITLEMENT, { e: ent });
    expect(a).toMatchObject({ covered: false, basis: null, reason: 'CASES_EXHAUSTED', casesUsed: 20, casesRemaining: 0, level: GOLD });

    // A key that succeeded, sent again: the same case, replayed, nothing counted.
    const winner = results.findIndex((r) => !r.errors);
    const before = await rowCounts(hub);
    const again = await hub.ok<{ recordSupportCase: { id: string; replayed: boolean; casesUsed: number } }>(RECORD, {
      i: { entitlementId: ent, idempotencyKey: `race-${winner}`, subject: `case ${winner}` },
    });
    expect(again.recordSupportCase).toMatchObject({ replayed: true, casesUsed: results[winner]!.data!.recordSupportCase.casesUsed });
    // Only the request's own audit row is new (every mutation is audited, replays too).
    expect(await rowCounts(hub)).toEqual({ ...before, audit_log: before.audit_log! + 1 });
    // The same key for another case is a conflict.
    expect(gqlError(await hub.gql(RECORD, { i: { entitlementId: ent, idempotencyKey: `race-${winner}`, subject: 'something else' } }))).toMatchObject({
      code: 'CONFLICT',
      subCode: 'IDEMPOTENCY_KEY_REUSED',
    });
  });

  it('by account: the covering entitlement is charged; unlimited cases count without a limit', async () => {
    const acct = await createAccount(hub, 'Unlimited Support');
    const ent = await grant(hub, acct, { sku: 'L-SUB', terms: { supportLevel: 'gold' } });
    const r = await hub.ok<{ recordSupportCase: { entitlementId: string; casesUsed: number; casesAllowed: number | null; casesRemaining: number | null } }>(RECORD, {
      i: { accountId: acct, idempotencyKey: 'k1' },
    });
    expect(r.recordSupportCase).toMatchObject({ entitlementId: ent, casesUsed: 1, casesAllowed: null, casesRemaining: null });
    const a = await ask(BY_ACCOUNT, { a: acct });
    expect(a).toMatchObject({ covered: true, basis: 'SUPPORT', entitlementId: ent, supportEnd: '2099-12-31', casesUsed: 1 });
  });
});

describe('terms through orders', () => {
  it('a renewal without terms carries them forward: a support end left open follows the new end date', async () => {
    const acct = await createAccount(hub, 'Renewing Support');
    const ext = `SUP-${Date.now()}`;
    const submit = (input: unknown) => hub.ok<{ submitOrder: { entitlements: { id: string }[] } }>('mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }', { input });
    const first = await submit({
      source: 'terms-test',
      externalId: ext,
      accountId: acct,
      orderDate: day(-365),
      currency: 'USD',
      lines: [{ lineNo: 1, externalLineId: `${ext}-1`, sku: 'L-SUB', quantity: 1, unitPrice: 1000, startDate: day(-365), endDate: day(-2), terms: { supportLevel: 'gold', casesAllowed: 5 } }],
    });
    const ent = first.submitOrder.entitlements[0]!.id;
    expect(await ask(BY_ENTITLEMENT, { e: ent })).toMatchObject({ covered: false, reason: 'SUPPORT_EXPIRED', supportEnd: day(-2) });
    await submit({
      source: 'terms-test',
      externalId: `${ext}-R`,
      accountId: acct,
      orderDate: day(-1),
      currency: 'USD',
      lines: [{ lineNo: 1, sku: 'L-SUB', quantity: 1, unitPrice: 1000, startDate: day(-1), endDate: day(364), action: 'RENEWAL', renewsLineRef: `${ext}-1` }],
    });
    expect(await ask(BY_ENTITLEMENT, { e: ent })).toMatchObject({ covered: true, basis: 'SUPPORT', supportEnd: day(364), casesAllowed: 5, level: GOLD });
    const { entitlement } = await hub.ok<{ entitlement: { terms: Record<string, unknown> } }>(
      `query ($id: ID!) { entitlement(id: $id) { terms { supportEnd effectiveSupportEnd effectiveMaintenanceEnd maintenanceEnd casesAllowed casesUsed afterExpiry expiryGraceDays supportLevel { key } } } }`,
      { id: ent },
    );
    expect(entitlement.terms).toEqual({
      supportEnd: null,
      effectiveSupportEnd: day(364),
      maintenanceEnd: null,
      effectiveMaintenanceEnd: day(364),
      casesAllowed: 5,
      casesUsed: 0,
      afterExpiry: 'KEEP_ACCESS',
      expiryGraceDays: 0,
      supportLevel: { key: 'gold' },
    });

    // An amendment with terms replaces them (cases used are kept).
    await submit({
      source: 'terms-test',
      externalId: `${ext}-A`,
      accountId: acct,
      orderDate: day(0),
      currency: 'USD',
      lines: [
        { lineNo: 1, sku: 'L-SUB', quantity: 1, unitPrice: 1000, startDate: day(0), action: 'AMENDMENT', amendsLineRef: `${ext}-1`,
          terms: { supportLevel: 'gold', casesAllowed: 2, maintenanceEnd: day(100), afterExpiry: 'RESTRICT_TO_RELEASED', expiryGraceDays: 30 } },
      ],
    });
    const product = (await hub.ds.query('SELECT product_id FROM entitlement WHERE id = $1', [ent]))[0].product_id;
    const m = await hub.services.support.maintenanceTerms(hub.ds.manager, { productId: product, accountId: acct });
    expect(m).toEqual([{ entitlementId: ent, accountId: acct, productId: product, maintenanceEnd: day(100), afterExpiry: 'RESTRICT_TO_RELEASED', graceDays: 30, status: 'ACTIVE' }]);
  });

  it('an entitlement without terms: no terms, maintenance follows its term, NO_SUPPORT_LEVEL and NO_WARRANTY', async () => {
    const acct = await createAccount(hub, 'No Terms');
    const ent = await grant(hub, acct, { sku: 'L-SUB', endDate: day(30), graceDays: 7 });
    const { entitlement } = await hub.ok<{ entitlement: { terms: unknown; orderLine: { terms: unknown } } }>(`query ($id: ID!) { entitlement(id: $id) { terms { casesUsed } orderLine { terms } } }`, { id: ent });
    expect(entitlement).toEqual({ terms: null, orderLine: { terms: null } });
    expect(await ask(BY_ACCOUNT, { a: acct })).toMatchObject({ covered: false, reason: 'NO_SUPPORT_LEVEL', reasons: ['NO_SUPPORT_LEVEL', 'NO_WARRANTY'] });
    const product = (await hub.ds.query('SELECT product_id FROM entitlement WHERE id = $1', [ent]))[0].product_id;
    expect(await hub.services.support.maintenanceTerms(hub.ds.manager, { productId: product, accountId: acct })).toEqual([
      { entitlementId: ent, accountId: acct, productId: product, maintenanceEnd: day(30), afterExpiry: 'KEEP_ACCESS', graceDays: 7, status: 'ACTIVE' },
    ]);
  });
});

describe('bad input: clear codes, nothing changed', () => {
  it('refuses unknown tiers, inconsistent terms, ambiguous subjects and unknown serials', async () => {
    const before = await rowCounts(hub);
    const order = (terms: unknown) =>
      hub.gql('mutation($input: OrderInput!) { submitOrder(input: $input) { id } }', {
        input: { source: 'terms-test', externalId: `BAD-${Math.random()}`, accountId: acme, orderDate: day(0), currency: 'USD', lines: [{ lineNo: 1, sku: 'L-SUB', quantity: 1, unitPrice: 1, startDate: day(0), endDate: day(30), terms }] },
      });
    const unknownTier = gqlError(await order({ supportLevel: 'platinum' }));
    expect(unknownTier).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ORDER_INVALID', fields: [{ path: 'input.lines.0.terms.supportLevel' }] });
    expect(gqlError(await order({ supportEnd: day(10) }))).toMatchObject({ subCode: 'ORDER_INVALID', fields: [{ path: 'input.lines.0.terms.supportEnd' }] });
    expect(gqlError(await order({ warrantyBasis: 'ORDER' }))).toMatchObject({ subCode: 'ORDER_INVALID', fields: [{ path: 'input.lines.0.terms.warrantyMonths' }] });
    expect(gqlError(await order({ casesAllowed: -1 }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(gqlError(await hub.gql(`query ($a: ID, $s: String) { supportEntitlement(accountId: $a, deviceSerial: $s) { covered } }`, { a: acme, s: 'SN-1' }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      subCode: 'SUPPORT_SUBJECT_REQUIRED',
    });
    expect(gqlError(await hub.gql(`query { supportEntitlement { covered } }`))).toMatchObject({ subCode: 'SUPPORT_SUBJECT_REQUIRED' });
    expect(gqlError(await hub.gql(BY_SERIAL, { s: 'NO-SUCH-SERIAL' }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'DEVICE_NOT_FOUND' });
    expect(gqlError(await hub.gql(RECORD, { i: { deviceSerial: 'NO-SUCH-SERIAL', idempotencyKey: 'x' } }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'DEVICE_NOT_FOUND' });
    expect(gqlError(await hub.gql(RECORD, { i: { accountId: acme, idempotencyKey: '  ' } }))).toMatchObject({ subCode: 'SUPPORT_CASE_KEY_INVALID' });
    expect(
      gqlError(await hub.gql(`mutation ($i: SupportTierInput!) { upsertSupportTier(input: $i) { id } }`, { i: { key: 'bad key', name: 'x', firstResponseMinutes: 0, resolutionMinutes: 1, coverageHours: '8x5' } })),
    ).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await rowCounts(hub)).toEqual(before);
  });

  it('an account-scoped key sees only its own devices, entitlements and account', async () => {
    const other = await createAccount(hub, 'Other');
    const key = await hub.createKey('READONLY' as never, other);
    expect(gqlError(await hub.gql(BY_SERIAL, { s: 'SN-WARRANTY' }, key))).toMatchObject({ code: 'NOT_FOUND', subCode: 'DEVICE_NOT_FOUND' });
    const [e] = await hub.ds.query('SELECT id FROM entitlement WHERE account_id = $1 LIMIT 1', [acme]);
    expect(gqlError(await hub.gql(BY_ENTITLEMENT, { e: e.id }, key))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(gqlError(await hub.gql(BY_ACCOUNT, { a: acme }, key))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(await hub.gql(BY_ACCOUNT, { a: other }, key)).toMatchObject({ data: { supportEntitlement: { covered: false, reason: 'NO_ENTITLEMENT' } } });
  });
});
