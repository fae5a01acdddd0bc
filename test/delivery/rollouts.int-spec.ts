import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { Role } from '../../src/auth/role';
import { put } from './delivery-support';

/**
 * Staged rollouts (issue 14 part 3, ADR 0040) over real HTTP: 1,000 simulated devices poll
 * `GET /v1/devices/<id>/update` with their own tokens and report through
 * `POST /v1/devices/<id>/update-status`. The rollout halts on its own once 10 % of the first
 * group's reports are failures; no device outside its entitlement is ever offered the
 * release, in any stage; resumed and healthy, it advances by itself.
 */
let hub: TestHub;
let release: string;
const DEVICES = 1_000;
const BARRED = 100; // devices whose maintenance ended before the release: never to be offered it
interface Device {
  id: string;
  n: number;
  token: string;
  entitled: boolean;
}
let devices: Device[] = [];

const gql = <T>(q: string, v: Record<string, unknown>) => hub.ok<T>(q, v);
const ROLLOUT = `query($r: ID!) { rollout(release: $r) { stage percent status haltedReason installed failed devicesAdmitted devicesTotal } }`;

async function poll(d: Device): Promise<{ offered: boolean; reasons: string[] }> {
  const res = await fetch(`${hub.url}/v1/devices/${d.id}/update?current=2.3.0&channel=stable`, { headers: { authorization: `Bearer ${d.token}` } });
  if (res.status === 204) return { offered: false, reasons: [] };
  const body = (await res.json()) as { release: { version: string } | null; heldBack: { version: string; reasons: { code: string }[] }[] };
  if (res.status !== 200) throw new Error(`poll ${res.status}: ${JSON.stringify(body)}`);
  return { offered: body.release?.version === '2.4.0', reasons: body.heldBack.filter((h) => h.version === '2.4.0').flatMap((h) => h.reasons.map((r) => r.code)) };
}

async function report(d: Device, status: 'INSTALLED' | 'FAILED', key: string): Promise<void> {
  const res = await fetch(`${hub.url}/v1/devices/${d.id}/update-status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ release, status, reason: status === 'FAILED' ? 'flash verify failed' : null }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`report ${res.status}: ${await res.text()}`);
}

/** Every device polls (16 at a time); returns who was offered 2.4.0 and the reasons the others got. */
async function pollAll(): Promise<{ offered: Device[]; reasons: Map<string, number> }> {
  const offered: Device[] = [];
  const reasons = new Map<string, number>();
  let i = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (i < devices.length) {
        const d = devices[i++]!;
        const r = await poll(d);
        if (r.offered) offered.push(d);
        for (const code of r.reasons) reasons.set(code, (reasons.get(code) ?? 0) + 1);
      }
    }),
  );
  // The invariant of every phase: nobody outside their entitlement was offered the release.
  expect(offered.filter((d) => !d.entitled)).toEqual([]);
  return { offered, reasons };
}

beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  const fleet = await createAccount(hub, 'Rollout Fleet');
  const lapsed = await createAccount(hub, 'Lapsed Fleet');
  const ok = await grant(hub, fleet, { sku: 'L-DEV', quantity: DEVICES, startDate: day(-200), terms: { maintenanceEnd: '2099-12-31', afterExpiry: 'RESTRICT_TO_RELEASED' } });
  const barred = await grant(hub, lapsed, { sku: 'L-DEV', quantity: BARRED, startDate: day(-200), terms: { maintenanceEnd: day(-20), afterExpiry: 'RESTRICT_TO_RELEASED' } });
  // 1,000 devices, tokens `ehd_ro_<n>` stored as activateDevice stores them (SHA-256).
  const rows: { id: string; n: number }[] = await hub.ds.query(
    `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, update_token_hash)
     SELECT CASE WHEN g < $3 THEN $2::uuid ELSE $1::uuid END, CASE WHEN g < $3 THEN $5::uuid ELSE $4::uuid END,
            'ro-' || g, 'linux', now(), now(), encode(sha256(convert_to('ehd_ro_' || g, 'UTF8')), 'hex')
       FROM generate_series(0, $6::int - 1) g
     RETURNING id, substr(fingerprint, 4)::int AS n`,
    [ok, barred, BARRED, fleet, lapsed, DEVICES],
  );
  devices = rows.map((r) => ({ id: r.id, n: r.n, token: `ehd_ro_${r.n}`, entitled: r.n >= BARRED })).sort((a, b) => a.n - b.n);
  release = (await gql<{ upsertRelease: { id: string } }>(`mutation($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }`, {
    i: { product: 'L-DEV', version: '2.4.0', status: 'PUBLISHED', releaseDate: `${day(-5)}T00:00:00.000Z` },
  })).upsertRelease.id;
  const up = await put(`${hub.url}/v1/releases/${release}/artifacts/fw-2.4.0.bin?platform=linux`, Buffer.from('firmware 2.4.0'), {
    authorization: `Bearer ${hub.adminKey}`,
    'content-type': 'application/octet-stream',
  });
  expect(up.status).toBe(201);
});
afterAll(async () => hub?.close());

describe('a staged rollout to 1,000 devices', () => {
  jest.setTimeout(180_000);

  it('offers the first 10 % of the entitled devices, halts on its own at 10 % failures, offers nobody while halted, and advances once resumed and healthy', async () => {
    const started = await gql<{ startRollout: Record<string, unknown> }>(
      `mutation($i: StartRolloutInput!) { startRollout(input: $i) { stages stage percent status failureThreshold minReports devicesTotal devicesAdmitted } }`,
      { i: { release, stages: [10, 50, 100], failureThreshold: 0.1, minReports: 20 } },
    );
    expect(started.startRollout).toMatchObject({ stages: [10, 50, 100], stage: 0, percent: 10, status: 'ACTIVE', failureThreshold: 0.1, minReports: 20, devicesTotal: DEVICES });

    // Stage 1: about 10 % of the 900 entitled devices (each device's slice is a stable hash).
    const first = await pollAll();
    expect(first.offered.length).toBeGreaterThan(50);
    expect(first.offered.length).toBeLessThan(140);
    expect(first.reasons.get('MAINTENANCE_ENDED')).toBe(BARRED); // the lapsed ones are refused by their terms, not by the rollout
    expect(first.reasons.get('ROLLOUT_NOT_YET')).toBe(DEVICES - BARRED - first.offered.length);
    // Polling again changes nobody's slice.
    const again = await pollAll();
    expect(new Set(again.offered.map((d) => d.id))).toEqual(new Set(first.offered.map((d) => d.id)));

    // The first group reports, one device after another: every tenth install fails.
    const group = [...first.offered].sort((a, b) => a.n - b.n);
    let sent = 0;
    for (const [i, d] of group.entries()) {
      await report(d, i % 10 === 9 ? 'FAILED' : 'INSTALLED', `r1-${d.n}`);
      sent++;
      const { rollout } = await gql<{ rollout: { status: string } }>(ROLLOUT, { r: release });
      if (rollout.status === 'HALTED') break;
    }
    // It halted by itself at the 20th report (2 failures of 20 = 10 %), without advancing.
    expect(sent).toBe(20);
    const halted = (await gql<{ rollout: Record<string, unknown> }>(ROLLOUT, { r: release })).rollout;
    expect(halted).toMatchObject({ status: 'HALTED', stage: 0, installed: 18, failed: 2 });
    expect(halted.haltedReason).toBe('2 of 20 devices reported a failed install (10 %), at or above the threshold of 10 %');

    // Halted: nobody is offered the release, not even the rest of the first group.
    const stopped = await pollAll();
    expect(stopped.offered).toEqual([]);
    expect(stopped.reasons.get('ROLLOUT_HALTED')).toBe(DEVICES - BARRED);

    // Resumed after a fix: the next 20 outcomes are all good; it advances to 50 % on its own.
    await gql(`mutation($r: ID!) { resumeRollout(release: $r) { status } }`, { r: release });
    const resumed = await pollAll();
    expect(new Set(resumed.offered.map((d) => d.id))).toEqual(new Set(first.offered.map((d) => d.id)));
    for (const d of group.slice(0, 20)) await report(d, 'INSTALLED', `r2-${d.n}`);
    const advanced = (await gql<{ rollout: Record<string, unknown> }>(ROLLOUT, { r: release })).rollout;
    expect(advanced).toMatchObject({ status: 'ACTIVE', stage: 1, percent: 50, installed: 20, failed: 0 });
    const second = await pollAll();
    expect(second.offered.length).toBeGreaterThan(380);
    expect(second.offered.length).toBeLessThan(520);
    for (const d of first.offered) expect(second.offered).toContainEqual(d); // stages are cumulative
  });

  it('refuses bad rollouts, a second one, and account-scoped keys; operators halt and advance by hand', async () => {
    const bad = await hub.gql(`mutation($i: StartRolloutInput!) { startRollout(input: $i) { stage } }`, { i: { release, stages: [50, 10] } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ROLLOUT_INVALID' });
    const notFull = await hub.gql(`mutation($i: StartRolloutInput!) { startRollout(input: $i) { stage } }`, { i: { release, stages: [10, 90], failureThreshold: 0 } });
    expect((notFull.errors?.[0]?.extensions as { fields: { path: string }[] }).fields.map((f) => f.path)).toEqual(['input.stages', 'input.failureThreshold']);
    const twice = await hub.gql(`mutation($i: StartRolloutInput!) { startRollout(input: $i) { stage } }`, { i: { release } });
    expect(twice.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', subCode: 'ROLLOUT_EXISTS' });
    const acct = await createAccount(hub, 'Scoped');
    const scoped = await hub.createKey(Role.INTEGRATION, acct);
    const refused = await hub.gql(`mutation($r: ID!) { haltRollout(release: $r) { status } }`, { r: release }, scoped);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const missing = await hub.gql(`query { rollout(release: "00000000-0000-4000-8000-000000000000") { stage } }`);
    expect(missing.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'RELEASE_NOT_FOUND' });

    const h = await gql<{ haltRollout: { status: string; haltedReason: string } }>(`mutation($r: ID!) { haltRollout(release: $r, reason: "support tickets spiking") { status haltedReason } }`, { r: release });
    expect(h.haltRollout).toEqual({ status: 'HALTED', haltedReason: 'support tickets spiking' });
    const blocked = await hub.gql(`mutation($r: ID!) { advanceRollout(release: $r) { stage } }`, { r: release });
    expect(blocked.errors?.[0]?.extensions?.subCode).toBe('ROLLOUT_HALTED');
    await gql(`mutation($r: ID!) { resumeRollout(release: $r) { status } }`, { r: release });
    const adv = await gql<{ advanceRollout: { stage: number; percent: number } }>(`mutation($r: ID!) { advanceRollout(release: $r) { stage percent } }`, { r: release });
    expect(adv.advanceRollout).toEqual({ stage: 2, percent: 100 });
    const last = await hub.gql(`mutation($r: ID!) { advanceRollout(release: $r) { stage } }`, { r: release });
    expect(last.errors?.[0]?.extensions?.subCode).toBe('ROLLOUT_AT_LAST_STAGE');
    // At 100 % every entitled device is offered it, and still none of the lapsed ones.
    const all = await pollAll();
    expect(all.offered.length).toBe(DEVICES - BARRED);
  });
});
