import { decideReleaseAccess, type EntitlementForAccess, type ReleaseForAccess } from './access';

const release = (over: Partial<ReleaseForAccess> = {}): ReleaseForAccess => ({
  id: 'r1',
  productId: 'p1',
  version: '2.4.0',
  channel: 'STABLE',
  status: 'PUBLISHED',
  releaseDate: new Date('2026-05-02T10:00:00Z'),
  requiredFeatures: [],
  platforms: [],
  architectures: [],
  deviceTypes: [],
  minUpgradeFrom: null,
  ...over,
});
const ent = (over: Partial<EntitlementForAccess> = {}): EntitlementForAccess => ({
  id: 'e1',
  status: 'ACTIVE',
  featureKeys: [],
  maintenanceEnd: null,
  afterExpiry: 'KEEP_ACCESS',
  graceDays: 0,
  warrantyEnd: null,
  ...over,
});
const now = new Date('2026-06-01T00:00:00Z');
const codes = (d: { reasons: { code: string }[] }) => d.reasons.map((r) => r.code);

describe('releaseAccess rule', () => {
  it('allows a published release to an entitled account, naming the entitlement', () => {
    expect(decideReleaseAccess(release(), { accountId: 'a' }, [ent()], now)).toEqual({ allowed: true, reasons: [], entitlementId: 'e1' });
  });

  it('refuses drafts, yanked releases and no entitlement', () => {
    expect(codes(decideReleaseAccess(release({ status: 'DRAFT' }), {}, [ent()], now))).toEqual(['RELEASE_NOT_PUBLISHED']);
    expect(codes(decideReleaseAccess(release({ status: 'YANKED' }), {}, [], now))).toEqual(['RELEASE_YANKED', 'NOT_ENTITLED']);
  });

  it('channels: asking BETA includes STABLE, RC and BETA; STABLE is the default', () => {
    expect(decideReleaseAccess(release({ channel: 'RC' }), { channel: 'BETA' }, [ent()], now).allowed).toBe(true);
    expect(decideReleaseAccess(release({ channel: 'ALPHA' }), { channel: 'BETA' }, [ent()], now).reasons[0].code).toBe('CHANNEL_MISMATCH');
    expect(codes(decideReleaseAccess(release({ channel: 'BETA' }), {}, [ent()], now))).toEqual(['CHANNEL_MISMATCH']);
  });

  it('compatibility: empty = any; a device must say a limited attribute, an account is not judged on it', () => {
    const r = release({ architectures: ['arm64'], deviceTypes: ['gateway'] });
    expect(decideReleaseAccess(r, { activationId: 'd', architecture: 'ARM64', deviceType: 'gateway' }, [ent()], now).allowed).toBe(true);
    expect(codes(decideReleaseAccess(r, { activationId: 'd', architecture: 'x64', deviceType: 'gateway' }, [ent()], now))).toEqual(['INCOMPATIBLE_ARCHITECTURE']);
    expect(codes(decideReleaseAccess(r, { activationId: 'd' }, [ent()], now))).toEqual(['INCOMPATIBLE_ARCHITECTURE', 'INCOMPATIBLE_DEVICE_TYPE']);
    expect(decideReleaseAccess(r, { accountId: 'a' }, [ent()], now).allowed).toBe(true);
    expect(codes(decideReleaseAccess(release({ platforms: ['linux'] }), { platform: 'windows' }, [ent()], now))).toEqual(['INCOMPATIBLE_PLATFORM']);
  });

  it('minUpgradeFrom against the current version (unknown = not judged)', () => {
    const r = release({ minUpgradeFrom: '2.0.0' });
    expect(decideReleaseAccess(r, { currentVersion: '1.9.3' }, [ent()], now).reasons[0]).toEqual({
      code: 'UPGRADE_PATH_UNSUPPORTED',
      message: 'Release 2.4.0 upgrades from 2.0.0 or later; the device runs 1.9.3',
    });
    expect(decideReleaseAccess(r, { currentVersion: '2.0.0' }, [ent()], now).allowed).toBe(true);
    expect(decideReleaseAccess(r, {}, [ent()], now).allowed).toBe(true);
  });

  it('features: some entitlement must hold every required key', () => {
    const r = release({ requiredFeatures: ['ota', 'fleet'] });
    expect(decideReleaseAccess(r, {}, [ent({ featureKeys: ['ota'] })], now).reasons[0].message).toBe('Release 2.4.0 needs feature fleet, which entitlement e1 does not hold');
    expect(decideReleaseAccess(r, {}, [ent({ featureKeys: ['ota'] }), ent({ id: 'e2', featureKeys: ['ota', 'fleet'] })], now).entitlementId).toBe('e2');
  });

  it('maintenance: the release date within end + grace; RESTRICT and REVOKE differ after it; KEEP_ACCESS keeps all', () => {
    const restricted = ent({ maintenanceEnd: '2026-03-31', afterExpiry: 'RESTRICT_TO_RELEASED' });
    expect(decideReleaseAccess(release(), {}, [restricted], now).reasons).toEqual([{ code: 'MAINTENANCE_ENDED', message: 'maintenance ended 2026-03-31, release published 2026-05-02' }]);
    expect(decideReleaseAccess(release({ releaseDate: new Date('2026-03-31T23:00:00Z') }), {}, [restricted], now).allowed).toBe(true);
    expect(decideReleaseAccess(release(), {}, [{ ...restricted, graceDays: 32 }], now).allowed).toBe(true);
    expect(decideReleaseAccess(release(), {}, [{ ...restricted, graceDays: 31 }], now).reasons[0].message).toBe('maintenance ended 2026-03-31 (+31 grace days: 2026-05-01), release published 2026-05-02');
    const revoked = ent({ maintenanceEnd: '2026-03-31', afterExpiry: 'REVOKE' });
    expect(codes(decideReleaseAccess(release({ releaseDate: new Date('2026-01-01T00:00:00Z') }), {}, [revoked], now))).toEqual(['MAINTENANCE_REVOKED']);
    expect(decideReleaseAccess(release({ releaseDate: new Date('2026-01-01T00:00:00Z') }), {}, [revoked], new Date('2026-03-31T12:00:00Z')).allowed).toBe(true);
    expect(decideReleaseAccess(release(), {}, [ent({ maintenanceEnd: '2026-03-31' })], now).allowed).toBe(true);
  });

  it('a renewed entitlement grants what a lapsed one refuses; refusals give the best candidate\'s reasons', () => {
    const lapsed = ent({ id: 'e1', maintenanceEnd: '2026-03-31', afterExpiry: 'RESTRICT_TO_RELEASED' });
    expect(decideReleaseAccess(release(), {}, [lapsed, ent({ id: 'e2', maintenanceEnd: '2027-03-31', afterExpiry: 'RESTRICT_TO_RELEASED' })], now).entitlementId).toBe('e2');
    expect(codes(decideReleaseAccess(release(), {}, [lapsed, ent({ id: 'e3', status: 'SUSPENDED', maintenanceEnd: '2026-03-31', afterExpiry: 'RESTRICT_TO_RELEASED' })], now))).toEqual(['MAINTENANCE_ENDED']);
  });

  it('warranty-bound updates restrict a device, not an account', () => {
    const w = ent({ warrantyEnd: '2026-04-30' });
    expect(decideReleaseAccess(release(), { activationId: 'd' }, [w], now).reasons).toEqual([
      { code: 'WARRANTY_RESTRICTED', message: 'updates of this device are bound to its warranty, which ended 2026-04-30; release published 2026-05-02' },
    ]);
    expect(decideReleaseAccess(release(), { accountId: 'a' }, [w], now).allowed).toBe(true);
  });
});
