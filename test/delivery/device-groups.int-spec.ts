import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { Role } from '../../src/auth/role';
import { BUCKET_SQL } from '../../src/delivery/rollout';

/**
 * Device groups and rollouts to them (issue 14 part 3, ADR 0048): an operator puts devices
 * into a named group, and a rollout offers its release to the group first (a 0 % stage: the
 * group only), then by percentage — always inside what each device is entitled to.
 */
let hub: TestHub;
let release: string;
let fleet: string[] = [];
let lapsed: string[] = [];
let lab: string[] = [];

const poll = async (id: string): Promise<{ offered: boolean; codes: string[] }> => {
  const res = await fetch(`${hub.url}/v1/devices/${id}/update?current=2.3.0`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
  if (res.status === 204) return { offered: false, codes: [] };
  const body = (await res.json()) as { release: { version: string } | null; heldBack: { version: string; reasons: { code: string }[] }[] };
  return { offered: body.release?.version === '2.4.0', codes: body.heldBack.flatMap((h) => h.reasons.map((r) => r.code)) };
};
const offeredOf = async (ids: string[]) => {
  const out: string[] = [];
  for (const id of ids) if ((await poll(id)).offered) out.push(id);
  return out.sort();
};
const SET = `mutation($g: String, $d: [ID!]!) { setDeviceGroup(group: $g, devices: $d) { group devices changed } }`;
const groupsInDb = async () => (await hub.ds.query(`SELECT device_group AS g, count(*)::int AS n FROM activation GROUP BY 1 ORDER BY 1 NULLS FIRST`)) as { g: string | null; n: number }[];

beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  const acct = await createAccount(hub, 'Group Fleet');
  const old = await createAccount(hub, 'Group Lapsed');
  const ok = await grant(hub, acct, { sku: 'L-DEV', quantity: 40, startDate: day(-200), terms: { maintenanceEnd: '2099-12-31', afterExpiry: 'RESTRICT_TO_RELEASED' } });
  const bad = await grant(hub, old, { sku: 'L-DEV', quantity: 4, startDate: day(-200), terms: { maintenanceEnd: day(-20), afterExpiry: 'RESTRICT_TO_RELEASED' } });
  const insert = (ent: string, account: string, n: number, prefix: string) =>
    hub.ds.query(
      `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
       SELECT $1, $2, $3 || g, 'linux', now(), now(), '2.3.0' FROM generate_series(1, $4::int) g RETURNING id`,
      [ent, account, prefix, n],
    ).then((rows: { id: string }[]) => rows.map((r) => r.id));
  fleet = await insert(ok, acct, 40, 'gf-');
  lapsed = await insert(bad, old, 4, 'gl-');
  release = (await hub.ok<{ upsertRelease: { id: string } }>(`mutation($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }`, {
    i: { product: 'L-DEV', version: '2.4.0', status: 'PUBLISHED', releaseDate: `${day(-5)}T00:00:00.000Z` },
  })).upsertRelease.id;
  // The lab: three entitled devices outside the first 10 % of the release's buckets, and one lapsed device.
  const outside: { id: string }[] = await hub.ds.query(`SELECT id FROM activation WHERE id = ANY($1::uuid[]) AND ${BUCKET_SQL('id', '$2::uuid')} >= 1000 ORDER BY id LIMIT 3`, [fleet, release]);
  lab = [...outside.map((o) => o.id), lapsed[0]!];
});
afterAll(async () => hub?.close());

describe('device groups', () => {
  it('setDeviceGroup: all or nothing — a bad name or an unknown device changes nothing; a scoped key may not; setting again changes nothing', async () => {
    const before = await groupsInDb();
    const badName = await hub.gql(SET, { g: '../lab', d: lab });
    expect(badName.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'DEVICE_GROUP_INVALID' });
    const unknown = await hub.gql(SET, { g: 'lab', d: [...lab, '00000000-0000-4000-8000-000000000000'] });
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'DEVICE_NOT_FOUND', devices: ['00000000-0000-4000-8000-000000000000'] });
    const empty = await hub.gql(SET, { g: 'lab', d: [] });
    expect(empty.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'DEVICE_GROUP_INVALID' });
    const scoped = await hub.createKey(Role.OPERATIONS, await createAccount(hub, 'Scoped'));
    expect((await hub.gql(SET, { g: 'lab', d: lab }, scoped)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await groupsInDb()).toEqual(before);

    expect((await hub.ok<{ setDeviceGroup: unknown }>(SET, { g: 'lab', d: lab })).setDeviceGroup).toEqual({ group: 'lab', devices: 4, changed: 4 });
    expect((await hub.ok<{ setDeviceGroup: unknown }>(SET, { g: 'lab', d: lab })).setDeviceGroup).toEqual({ group: 'lab', devices: 4, changed: 0 });
    expect((await hub.ok<{ deviceGroups: unknown }>(`query { deviceGroups(product: "L-DEV") { group devices } }`)).deviceGroups).toEqual([{ group: 'lab', devices: 4 }]);
  });

  it('a rollout to the lab first: at 0 % only the lab\'s entitled devices are offered it, the lapsed lab device is refused by its terms; then by percentage, the lab kept', async () => {
    const noGroups = await hub.gql(`mutation($r: ID!) { startRollout(input: { release: $r, stages: [0, 100] }) { stage } }`, { r: release });
    expect(noGroups.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ROLLOUT_INVALID' });
    const badGroup = await hub.gql(`mutation($r: ID!) { startRollout(input: { release: $r, groups: ["a b"] }) { stage } }`, { r: release });
    expect(badGroup.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ROLLOUT_INVALID' });

    const started = await hub.ok<{ startRollout: Record<string, unknown> }>(
      `mutation($r: ID!) { startRollout(input: { release: $r, groups: ["lab"] }) { stages groups stage percent devicesAdmitted devicesTotal } }`,
      { r: release },
    );
    expect(started.startRollout).toEqual({ stages: [0, 10, 50, 100], groups: ['lab'], stage: 0, percent: 0, devicesAdmitted: 4, devicesTotal: 44 });

    const entitledLab = lab.slice(0, 3).sort();
    expect(await offeredOf([...fleet, ...lapsed])).toEqual(entitledLab);
    expect((await poll(lapsed[0]!)).codes).toEqual(['MAINTENANCE_ENDED']);
    expect((await poll(fleet.find((f) => !lab.includes(f))!)).codes).toEqual(['ROLLOUT_NOT_YET']);
    // deliveryStatus judges by the same rule.
    const status = await hub.ok<{ deliveryStatus: { offered: number; heldBack: { code: string; devices: number }[] } }>(`query { deliveryStatus(product: "L-DEV") { offered heldBack { code devices } } }`);
    expect(status.deliveryStatus.offered).toBe(3);
    expect(status.deliveryStatus.heldBack).toEqual([
      { code: 'ROLLOUT_NOT_YET', devices: 37 },
      { code: 'MAINTENANCE_ENDED', devices: 4 },
    ]);

    // Out of the group: out of the pilot.
    await hub.ok(SET, { g: null, d: [entitledLab[0]] });
    expect(await offeredOf(fleet)).toEqual(entitledLab.slice(1));
    await hub.ok(SET, { g: 'lab', d: [entitledLab[0]] });

    // The next stage adds the first 10 % by bucket, and keeps the lab.
    const adv = await hub.ok<{ advanceRollout: { percent: number } }>(`mutation($r: ID!) { advanceRollout(release: $r) { percent } }`, { r: release });
    expect(adv.advanceRollout.percent).toBe(10);
    const inTen: string[] = (await hub.ds.query(`SELECT id FROM activation WHERE id = ANY($1::uuid[]) AND ${BUCKET_SQL('id', '$2::uuid')} < 1000`, [fleet, release])).map((x: { id: string }) => x.id);
    expect(await offeredOf([...fleet, ...lapsed])).toEqual([...new Set([...inTen, ...entitledLab])].sort());
  });
});
