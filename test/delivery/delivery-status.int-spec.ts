import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { Role } from '../../src/auth/role';

/**
 * deliveryStatus (issue 14 part 3): a fleet of 16 devices against release 2.4.0 — per version,
 * up to date, offered, held back per reason by the same rule and rollout polls use, and the
 * accounts whose lapsed maintenance holds devices back (renewal opportunities).
 */
let hub: TestHub;
let fleet: string;
let lapsed: string;
let r24: string;
const STATUS = `query($p: String!, $r: ID) { deliveryStatus(product: $p, release: $r) {
  sku version devices versions { version devices } upToDate offered heldBack { code devices } renewalOpportunities { accountId devices account { name } } } }`;

beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  fleet = await createAccount(hub, 'Status Fleet');
  lapsed = await createAccount(hub, 'Status Lapsed');
  const ok = await grant(hub, fleet, { sku: 'L-DEV', quantity: 12, startDate: day(-200), terms: { maintenanceEnd: '2099-12-31', afterExpiry: 'RESTRICT_TO_RELEASED' } });
  const old = await grant(hub, lapsed, { sku: 'L-DEV', quantity: 4, startDate: day(-200), terms: { maintenanceEnd: day(-20), afterExpiry: 'RESTRICT_TO_RELEASED' } });
  // 12 fleet devices: 3 on 2.4.0, 1 unknown, 2 on windows (the release is linux only), 6 on 2.3.0 linux; 4 lapsed devices on 2.3.0.
  await hub.ds.query(
    `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
     SELECT $1, $2, 'st-' || g, CASE WHEN g IN (4, 5) THEN 'windows' ELSE 'linux' END, now(), now(),
            CASE WHEN g < 3 THEN '2.4.0' WHEN g = 3 THEN NULL ELSE '2.3.0' END
       FROM generate_series(0, 11) g`,
    [ok, fleet],
  );
  await hub.ds.query(
    `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
     SELECT $1, $2, 'stl-' || g, 'linux', now(), now(), '2.3.0' FROM generate_series(0, 3) g`,
    [old, lapsed],
  );
  for (const [version, at] of [['2.3.0', day(-60)], ['2.4.0', day(-5)]] as const) {
    const d = await hub.ok<{ upsertRelease: { id: string } }>(`mutation($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }`, {
      i: { product: 'L-DEV', version, status: 'PUBLISHED', releaseDate: `${at}T00:00:00.000Z`, platforms: ['linux'] },
    });
    if (version === '2.4.0') r24 = d.upsertRelease.id;
  }
});
afterAll(async () => hub?.close());

describe('deliveryStatus', () => {
  it('counts devices per version, up to date, offered and held back per reason; lapsed maintenance is a renewal opportunity', async () => {
    const { deliveryStatus: s } = await hub.ok<{ deliveryStatus: Record<string, unknown> }>(STATUS, { p: 'L-DEV' });
    expect(s).toEqual({
      sku: 'L-DEV',
      version: '2.4.0', // the newest published STABLE release by default
      devices: 16,
      versions: [
        { version: '2.4.0', devices: 3 },
        { version: '2.3.0', devices: 12 },
        { version: null, devices: 1 },
      ],
      upToDate: 3,
      // The unknown-version device and the six linux fleet devices on 2.3.0.
      offered: 7,
      heldBack: [
        { code: 'MAINTENANCE_ENDED', devices: 4 },
        { code: 'INCOMPATIBLE_PLATFORM', devices: 2 },
      ],
      // With the account's name, for a list of whom to call.
      renewalOpportunities: [{ accountId: lapsed, devices: 4, account: { name: 'Status Lapsed' } }],
    });
  });

  it('a halted rollout holds back every device the rule allows; another release and bad input', async () => {
    await hub.ok(`mutation($r: ID!) { startRollout(input: { release: $r }) { stage } }`, { r: r24 });
    await hub.ok(`mutation($r: ID!) { haltRollout(release: $r) { status } }`, { r: r24 });
    const { deliveryStatus: s } = await hub.ok<{ deliveryStatus: { offered: number; heldBack: { code: string; devices: number }[] } }>(STATUS, { p: 'L-DEV', r: r24 });
    expect(s.offered).toBe(0);
    expect(s.heldBack).toEqual([
      { code: 'ROLLOUT_HALTED', devices: 7 },
      { code: 'MAINTENANCE_ENDED', devices: 4 },
      { code: 'INCOMPATIBLE_PLATFORM', devices: 2 },
    ]);
    const unknown = await hub.gql(STATUS, { p: 'NO-SUCH-SKU' });
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'PRODUCT_NOT_FOUND' });
    const noRelease = await hub.gql(STATUS, { p: 'L-DEV', r: '00000000-0000-4000-8000-000000000000' });
    expect(noRelease.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'RELEASE_NOT_FOUND' });
    const scoped = await hub.createKey(Role.READONLY, fleet);
    expect((await hub.gql(STATUS, { p: 'L-DEV' }, scoped)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
