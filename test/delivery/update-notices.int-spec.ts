import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { BUCKET_SQL } from '../../src/delivery/rollout';
import { startMosquitto } from '../support/mosquitto';
import pino from 'pino';
import { withServices } from '../../src/cli/cli-context';
import { seedDeliveryDemo } from '../../src/cli/demo-delivery';
import type { UpdateNotices } from '../../src/delivery/update-notices';
import { systemContext } from '../../src/common/context';
import type { UpsertReleaseInput } from '../../src/delivery/delivery.types';

/**
 * "Update available" notices over MQTT (issue 14 part 3) against the machine's Mosquitto on
 * 127.0.0.1:1883 (.ci/run starts it when it is not running), received by a real MQTT.js
 * subscriber: one small notice per device the release is now offered to — none to devices
 * outside their entitlement or outside the rollout's stage — and a broker that is down does
 * not stop a release from being published. One Mosquitto of the file's own with an ACL shows
 * a notice refused by the broker (MQTT 5) left to be sent again.
 */
const BROKER = process.env.EHUB_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
let hub: TestHub;
let sub: mqtt.MqttClient;
const got: { topic: string; body: Record<string, unknown> }[] = [];
let fleet: string;
let fleetDevices: string[] = [];
let lapsedDevices: string[] = [];

const UPSERT = `mutation ($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }`;
const waitFor = async (what: () => boolean, ms = 10_000) => {
  const until = Date.now() + ms;
  while (!what()) {
    if (Date.now() > until) throw new Error(`timed out; ${got.length} notices so far, the first: ${JSON.stringify(got.slice(0, 3).map((g) => g.topic))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  hub = await startTestHub({ EHUB_MQTT_URL: BROKER });
  await seedLicensingCatalog(hub);
  fleet = await createAccount(hub, 'Notice Fleet');
  const lapsed = await createAccount(hub, 'Notice Lapsed');
  const ok = await grant(hub, fleet, { sku: 'L-DEV', quantity: 6, startDate: day(-200), terms: { maintenanceEnd: '2099-12-31', afterExpiry: 'RESTRICT_TO_RELEASED' } });
  const old = await grant(hub, lapsed, { sku: 'L-DEV', quantity: 2, startDate: day(-200), terms: { maintenanceEnd: day(-20), afterExpiry: 'RESTRICT_TO_RELEASED' } });
  fleetDevices = (await hub.ds.query(
    `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
     SELECT $1, $2, 'nf-' || g, 'linux', now(), now(), '2.3.0' FROM generate_series(0, 5) g RETURNING id`,
    [ok, fleet],
  )).map((r: { id: string }) => r.id);
  lapsedDevices = (await hub.ds.query(
    `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
     SELECT $1, $2, 'nl-' || g, 'linux', now(), now(), '2.3.0' FROM generate_series(0, 1) g RETURNING id`,
    [old, lapsed],
  )).map((r: { id: string }) => r.id);
  sub = await mqtt.connectAsync(BROKER, { clientId: `ehub-test-${Date.now()}` });
  // QoS 0: Mosquitto hands each notice straight to the socket. With QoS 1 it keeps at most 20 in
  // flight to this one catch-all subscriber and drops beyond 1,000 queued (max_queued_messages)
  // when the subscriber, in this busy test process, falls behind a windowed send (ADR 0066).
  await sub.subscribeAsync('ehub/+/devices/+/update', { qos: 0 });
  sub.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown> }));
});
afterAll(async () => {
  await sub?.endAsync(true);
  await hub?.services.updateNotices.close();
  await hub?.close();
});

describe('update notices over MQTT', () => {
  jest.setTimeout(60_000);

  it('publishing a release notifies each device it is offered to, with no URL or secret; lapsed devices hear nothing', async () => {
    const { upsertRelease } = await hub.ok<{ upsertRelease: { id: string } }>(UPSERT, { i: { product: 'L-DEV', version: '2.4.0', status: 'DRAFT', releaseDate: `${day(-5)}T00:00:00.000Z` } });
    await hub.services.updateNotices.settle();
    expect(got).toEqual([]); // a draft is offered to nobody
    await hub.ok(UPSERT, { i: { product: 'L-DEV', version: '2.4.0', status: 'PUBLISHED' } });
    await hub.services.updateNotices.settle();
    await waitFor(() => got.length >= fleetDevices.length);
    await new Promise((r) => setTimeout(r, 300)); // nothing more arrives
    expect(got.map((g) => g.topic).sort()).toEqual(fleetDevices.map((d) => `ehub/${fleet}/devices/${d}/update`).sort());
    for (const g of got) expect(g.body).toEqual({ release: upsertRelease.id, product: 'L-DEV', version: '2.4.0' });
    for (const d of lapsedDevices) expect(got.some((g) => g.topic.includes(d))).toBe(false);
    expect(JSON.stringify(got)).not.toMatch(/https?:|token|signature/i);
    // deliveryStatus counts them: every offered device was told.
    const told = await hub.ok<{ deliveryStatus: { offered: number; notified: number } }>(`query($r: ID) { deliveryStatus(product: "L-DEV", release: $r) { offered notified } }`, { r: upsertRelease.id });
    expect(told.deliveryStatus).toEqual({ offered: fleetDevices.length, notified: fleetDevices.length });
    // Publishing again (an update of a published release) sends nothing new.
    await hub.ok(UPSERT, { i: { product: 'L-DEV', version: '2.4.0', notes: 'typo fixed' } });
    await hub.services.updateNotices.settle();
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toHaveLength(fleetDevices.length);
  });

  it('a rollout notifies the devices of its stage, and an advance the devices it adds', async () => {
    got.length = 0;
    const { upsertRelease } = await hub.ok<{ upsertRelease: { id: string } }>(UPSERT, { i: { product: 'L-DEV', version: '2.5.0', status: 'DRAFT', releaseDate: `${day(-1)}T00:00:00.000Z` } });
    const r = upsertRelease.id;
    await hub.ok(`mutation($r: ID!) { startRollout(input: { release: $r, stages: [40, 100] }) { stage } }`, { r });
    await hub.ok(UPSERT, { i: { product: 'L-DEV', version: '2.5.0', status: 'PUBLISHED' } });
    await hub.services.updateNotices.settle();
    const inStage: string[] = (await hub.ds.query(`SELECT id FROM activation WHERE id = ANY($1::uuid[]) AND ${BUCKET_SQL('id', '$2::uuid')} < 4000`, [fleetDevices, r])).map((x: { id: string }) => x.id);
    await waitFor(() => got.length >= inStage.length);
    await new Promise((res) => setTimeout(res, 300));
    expect(got.map((g) => g.topic).sort()).toEqual(inStage.map((d) => `ehub/${fleet}/devices/${d}/update`).sort());
    const STATUS = `query($r: ID) { deliveryStatus(product: "L-DEV", release: $r) { offered notified } }`;
    expect((await hub.ok<{ deliveryStatus: unknown }>(STATUS, { r })).deliveryStatus).toEqual({ offered: inStage.length, notified: inStage.length });
    got.length = 0;
    await hub.ok(`mutation($r: ID!) { advanceRollout(release: $r) { percent } }`, { r });
    await hub.services.updateNotices.settle();
    // Only the devices the advance adds: those of the first stage were told already.
    const added = fleetDevices.filter((d) => !inStage.includes(d));
    await waitFor(() => got.length >= added.length);
    await new Promise((res) => setTimeout(res, 300));
    expect(got.map((g) => g.topic).sort()).toEqual(added.map((d) => `ehub/${fleet}/devices/${d}/update`).sort());
    expect((await hub.ok<{ deliveryStatus: unknown }>(STATUS, { r })).deliveryStatus).toEqual({ offered: fleetDevices.length, notified: fleetDevices.length });

    // Halted and resumed: the devices still offered are told again (they may go ahead now).
    got.length = 0;
    await hub.ok(`mutation($r: ID!) { haltRollout(release: $r, reason: "a bad batch") { status } }`, { r });
    await hub.services.updateNotices.settle();
    await new Promise((res) => setTimeout(res, 300));
    expect(got).toEqual([]); // a halt tells nobody
    await hub.ok(`mutation($r: ID!) { resumeRollout(release: $r) { status } }`, { r });
    await hub.services.updateNotices.settle();
    await waitFor(() => got.length >= fleetDevices.length);
    await new Promise((res) => setTimeout(res, 300));
    expect(got.map((g) => g.topic).sort()).toEqual(fleetDevices.map((d) => `ehub/${fleet}/devices/${d}/update`).sort());
  });

  it('two changes sending for the same release at once tell each device once (the ledger in update_notice)', async () => {
    got.length = 0;
    const { upsertRelease } = await hub.ok<{ upsertRelease: { id: string } }>(UPSERT, { i: { product: 'L-DEV', version: '2.5.1', status: 'DRAFT', releaseDate: `${day(-1)}T00:00:00.000Z` } });
    const r = upsertRelease.id;
    // Published with no rollout: the publish sends, and two more sends race it, as a rollout
    // change following the publish at once (or another instance) would.
    await hub.ok(UPSERT, { i: { product: 'L-DEV', version: '2.5.1', status: 'PUBLISHED' } });
    hub.services.updateNotices.releaseAvailable(r);
    hub.services.updateNotices.releaseAvailable(r);
    await hub.services.updateNotices.settle();
    const offered = (await hub.services.deliveryStatus.offeredDevices(r)).map((d) => d.activationId);
    expect(offered.length).toBeGreaterThan(0);
    await waitFor(() => got.length >= offered.length);
    await new Promise((res) => setTimeout(res, 300));
    expect(got.map((g) => g.topic).sort()).toEqual(offered.map((d) => `ehub/${fleet}/devices/${d}/update`).sort());
    const [{ told }] = await hub.ds.query(`SELECT count(*)::int AS told FROM update_notice WHERE release_id = $1`, [r]);
    expect(told).toBe(offered.length);
  });

  it('a rollout to a pilot group notifies the group first, and advancing on its own after the pilot\'s installs notifies the rest', async () => {
    got.length = 0;
    const pilot = fleetDevices[0]!;
    await hub.ok(`mutation($d: [ID!]!) { setDeviceGroup(group: "pilot", devices: $d) { changed } }`, { d: [pilot, lapsedDevices[0]] });
    const { upsertRelease } = await hub.ok<{ upsertRelease: { id: string } }>(UPSERT, { i: { product: 'L-DEV', version: '2.7.0', status: 'DRAFT', releaseDate: `${day(-1)}T00:00:00.000Z` } });
    const r = upsertRelease.id;
    const started = await hub.ok<{ startRollout: { stages: number[]; groups: string[] } }>(
      `mutation($r: ID!) { startRollout(input: { release: $r, groups: ["pilot"], stages: [0, 100], minReports: 1 }) { stages groups } }`,
      { r },
    );
    expect(started.startRollout).toEqual({ stages: [0, 100], groups: ['pilot'] });
    await hub.ok(UPSERT, { i: { product: 'L-DEV', version: '2.7.0', status: 'PUBLISHED' } });
    await hub.services.updateNotices.settle();
    await waitFor(() => got.length >= 1);
    await new Promise((res) => setTimeout(res, 300));
    // The pilot device only: the lapsed device in the group is outside its entitlement.
    expect(got.map((g) => g.topic)).toEqual([`ehub/${fleet}/devices/${pilot}/update`]);
    got.length = 0;
    // The pilot installs it: one good report (minReports 1) advances the rollout to 100 % on its own, and the others hear of it.
    const res = await fetch(`${hub.url}/v1/devices/${pilot}/update-status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ release: r, status: 'INSTALLED' }),
    });
    expect(res.status).toBe(201);
    await hub.services.updateNotices.settle();
    const rest = fleetDevices.slice(1);
    await waitFor(() => got.length >= rest.length);
    await new Promise((res2) => setTimeout(res2, 300));
    expect(got.map((g) => g.topic).sort()).toEqual(rest.map((d) => `ehub/${fleet}/devices/${d}/update`).sort());
    expect((await hub.ok<{ rollout: { stage: number; percent: number } }>(`query($r: ID!) { rollout(release: $r) { stage percent } }`, { r })).rollout).toEqual({ stage: 1, percent: 100 });
  });

  it('a notice the broker refuses (its ACL; MQTT 5 says so) is not recorded: the other devices are told, and a later send tells that one', async () => {
    const refusedDevice = fleetDevices[2]!;
    // Anonymous clients may publish to every fleet device's topic but one.
    const acl = fleetDevices.filter((d) => d !== refusedDevice).map((d) => `topic write ehub/${fleet}/devices/${d}/update`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-mqtt-acl-'));
    fs.writeFileSync(path.join(dir, 'acl'), `${acl.join('\n')}\n`);
    const strict = await startMosquitto(`allow_anonymous true\nacl_file ${path.join(dir, 'acl')}`, dir);
    const other = await startTestHub({ EHUB_MQTT_URL: `mqtt://127.0.0.1:${strict.port}` }, { attachTo: hub });
    try {
      const { upsertRelease } = await other.ok<{ upsertRelease: { id: string } }>(UPSERT, { i: { product: 'L-DEV', version: '2.9.0', status: 'PUBLISHED', releaseDate: `${day(-1)}T00:00:00.000Z` } });
      const r = upsertRelease.id;
      await other.services.updateNotices.settle();
      const offered = (await hub.services.deliveryStatus.offeredDevices(r)).map((d) => d.activationId);
      expect(offered).toContain(refusedDevice);
      expect(other.services.updateNotices.counts).toEqual({ published: offered.length - 1, failed: 0, refused: 1 });
      const told: string[] = (await hub.ds.query(`SELECT activation_id FROM update_notice WHERE release_id = $1`, [r])).map((x: { activation_id: string }) => x.activation_id);
      expect(told.sort()).toEqual(offered.filter((d) => d !== refusedDevice).sort());
      expect(strict.output()).toMatch(/Denied PUBLISH/);
      // A later send, through a broker that takes it, tells only the device left out.
      got.length = 0;
      hub.services.updateNotices.releaseAvailable(r);
      await hub.services.updateNotices.settle();
      await waitFor(() => got.length >= 1);
      await new Promise((res) => setTimeout(res, 300));
      expect(got.map((g) => g.topic)).toEqual([`ehub/${fleet}/devices/${refusedDevice}/update`]);
    } finally {
      await other.services.updateNotices.close();
      await other.close();
      await strict.stop();
    }
  });

  it('a broker that is down does not stop a release from being published', async () => {
    const down = await startTestHub({ EHUB_MQTT_URL: 'mqtt://127.0.0.1:9' }, { attachTo: hub });
    try {
      const res = await down.ok<{ upsertRelease: { id: string } }>(UPSERT, { i: { product: 'L-DEV', version: '2.6.0', status: 'PUBLISHED', releaseDate: `${day(-1)}T00:00:00.000Z` } });
      expect(res.upsertRelease.id).toBeTruthy();
      await down.services.updateNotices.settle();
      expect(down.services.updateNotices.counts).toEqual({ published: 0, failed: 1, refused: 0 });
      // Nobody is marked as told: a later change, on an instance that reaches the broker, tells them.
      const [{ told }] = await hub.ds.query(`SELECT count(*)::int AS told FROM update_notice WHERE release_id = $1`, [res.upsertRelease.id]);
      expect(told).toBe(0);
      got.length = 0;
      hub.services.updateNotices.releaseAvailable(res.upsertRelease.id);
      await hub.services.updateNotices.settle();
      const offered = (await hub.services.deliveryStatus.offeredDevices(res.upsertRelease.id)).map((d) => d.activationId);
      expect(offered.length).toBeGreaterThan(0);
      await waitFor(() => got.length >= offered.length);
      expect(got.map((g) => g.topic).sort()).toEqual(offered.map((d) => `ehub/${fleet}/devices/${d}/update`).sort());
    } finally {
      await down.services.updateNotices.close();
      await down.close();
    }
  });

  it('a CLI command (`ehub demo` publishes releases) lets the notices it set off finish before it closes the database', async () => {
    // A fleet big enough that its notices take longer than closing the database does.
    const cliFleet = await createAccount(hub, 'Notice CLI Fleet');
    const ent = await grant(hub, cliFleet, { sku: 'L-DEV', quantity: 2000, startDate: day(-200), terms: { maintenanceEnd: '2099-12-31', afterExpiry: 'RESTRICT_TO_RELEASED' } });
    await hub.ds.query(
      `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
       SELECT $1, $2, 'nc-' || g, 'linux', now(), now(), '2.3.0' FROM generate_series(1, 2000) g`,
      [ent, cliFleet],
    );
    got.length = 0;
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: hub.databaseUrl, EHUB_MQTT_URL: BROKER, LOG_LEVEL: 'silent' });
    let releaseId: string;
    let counts: UpdateNotices['counts'];
    let atReturn: UpdateNotices['counts'];
    try {
      releaseId = await withServices(async (s) => {
        counts = s.updateNotices.counts;
        const input = { product: 'L-DEV', version: '3.0.0', status: 'PUBLISHED', releaseDate: new Date(`${day(-1)}T00:00:00.000Z`) } as unknown as UpsertReleaseInput;
        return (await s.delivery.upsertRelease(systemContext(pino({ level: 'silent' }), 'test:cli'), input)).id;
      });
      atReturn = { ...counts! }; // read as the command returns, before anything else runs
    } finally {
      process.env = saved;
    }
    // Sent and recorded by the command itself, before it returned.
    const offeredDevices = await hub.services.deliveryStatus.offeredDevices(releaseId);
    const offered = offeredDevices.map((d) => d.activationId);
    expect(offered.length).toBeGreaterThan(2000);
    expect(atReturn).toEqual({ published: offered.length, failed: 0, refused: 0 });
    const [{ told }] = await hub.ds.query(`SELECT count(*)::int AS told FROM update_notice WHERE release_id = $1`, [releaseId]);
    expect(told).toBe(offered.length);
    await waitFor(() => got.length >= offered.length, 30_000);
    expect(got.map((g) => g.topic).sort()).toEqual(offeredDevices.map((d) => `ehub/${d.accountId}/devices/${d.activationId}/update`).sort());
  });

  it('the demo (`ehub demo --book`) rolls its newest release out as an operator would: notices reach its first stage only', async () => {
    got.length = 0;
    const ctx = systemContext(pino({ level: 'silent' }), 'test:demo');
    const { releases } = await seedDeliveryDemo(hub.services, ctx, 'L-DEV');
    await hub.services.updateNotices.settle();
    const [older, newest] = releases as [string, string];
    const offeredOlder = await hub.services.deliveryStatus.offeredDevices(older);
    const admitted = await hub.services.deliveryStatus.offeredDevices(newest); // the rollout's 10 % stage
    expect(admitted.length).toBeGreaterThan(0);
    expect(admitted.length).toBeLessThan(offeredOlder.length / 2); // 4.1.0 has no rollout: every entitled device
    await waitFor(() => got.length >= offeredOlder.length + admitted.length, 30_000);
    await new Promise((res) => setTimeout(res, 300));
    const to = (version: string) => got.filter((g) => g.body.version === version).map((g) => g.topic).sort();
    expect(to('4.2.0')).toEqual(admitted.map((d) => `ehub/${d.accountId}/devices/${d.activationId}/update`).sort());
    expect(to('4.1.0')).toHaveLength(offeredOlder.length);
  });
});
