import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';

/**
 * Update notices when the broker goes away in the middle of a send (ADR 0066), against
 * Mosquitto brokers of this file's own: killed (the connection closes), frozen (SIGSTOP: the
 * connection stays open and no PUBACK comes). Each time the send ends on its own, the devices
 * the broker acknowledged stay marked as told, the others are released and told by the
 * release's next change (on a fresh connection), and close() does not wait past its grace.
 */
let hub: TestHub;
let fleet: string;
const FLEET = 2000;
const UPSERT = `mutation ($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }`;
const ANON = 'allow_anonymous true';

const waitFor = async (what: () => boolean, ms: number, why: () => string) => {
  const until = Date.now() + ms;
  while (!what()) {
    if (Date.now() > until) throw new Error(`timed out: ${why()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
const told = async (releaseId: string): Promise<number> =>
  (await hub.ds.query(`SELECT count(*)::int AS n FROM update_notice WHERE release_id = $1`, [releaseId]))[0].n;
let version = 0;
/** A draft release of L-DEV: nothing is sent until the test calls releaseAvailable itself. */
const draftRelease = async (on: TestHub): Promise<string> => {
  version++;
  const { upsertRelease } = await on.ok<{ upsertRelease: { id: string } }>(UPSERT, { i: { product: 'L-DEV', version: `7.${version}.0`, status: 'DRAFT', releaseDate: `${day(-1)}T00:00:00.000Z` } });
  await hub.ds.query(`UPDATE release SET status = 'PUBLISHED' WHERE id = $1`, [upsertRelease.id]);
  return upsertRelease.id;
};
/** A subscriber to every device's notices on `broker`, counting what it gets. */
const subscribe = async (broker: Mosquitto): Promise<{ got: string[]; end(): Promise<void> }> => {
  const got: string[] = [];
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: `ehub-loss-${Date.now()}`, reconnectPeriod: 0 });
  await sub.subscribeAsync('ehub/+/devices/+/update', { qos: 0 });
  sub.on('message', (topic) => got.push(topic));
  sub.on('error', () => undefined);
  return { got, end: () => sub.endAsync(true) };
};

/**
 * A broker of the test's own and a hub instance sending to it, connected by a first send that
 * goes through (every device told of a first release); `end` cleans both up.
 */
const connectedHub = async (env: Record<string, string> = {}) => {
  const broker = await startMosquitto(ANON);
  const other = await startTestHub({ EHUB_MQTT_URL: `mqtt://127.0.0.1:${broker.port}`, ...env }, { attachTo: hub });
  const notices = other.services.updateNotices;
  const first = await draftRelease(other);
  notices.releaseAvailable(first);
  await notices.settle();
  expect(notices.counts).toMatchObject({ published: FLEET, failed: 0 });
  return {
    broker,
    other,
    notices,
    async end() {
      broker.signal('SIGCONT');
      await notices.close();
      await other.close();
      await broker.stop();
    },
  };
};

beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  fleet = await createAccount(hub, 'Broker Loss Fleet');
  const ent = await grant(hub, fleet, { sku: 'L-DEV', quantity: FLEET, startDate: day(-200), terms: { maintenanceEnd: '2099-12-31', afterExpiry: 'RESTRICT_TO_RELEASED' } });
  await hub.ds.query(
    `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
     SELECT $1, $2, 'bl-' || g, 'linux', now(), now(), '2.3.0' FROM generate_series(1, $3) g`,
    [ent, fleet, FLEET],
  );
});
afterAll(async () => {
  await hub?.close();
});

/**
 * A TCP server standing in for a broker that misbehaves as `onConnection` says, and a hub
 * (attached to the shared one) whose notices go to it; both are closed after `fn`.
 */
async function withFakeBroker(onConnection: (sock: net.Socket) => void, fn: (other: TestHub) => Promise<void>): Promise<void> {
  const open = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    onConnection(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const other = await startTestHub({ EHUB_MQTT_URL: `mqtt://127.0.0.1:${port}` }, { attachTo: hub });
  try {
    await fn(other);
  } finally {
    await other.close();
    for (const sock of open) sock.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('update notices when the broker goes away mid-send', () => {
  jest.setTimeout(90_000);

  it('a broker killed mid-send: the send ends, acknowledged devices stay told, the rest are told on a fresh connection once it is back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-mqtt-loss-'));
    let broker = await startMosquitto(ANON, dir);
    const port = broker.port;
    const other = await startTestHub({ EHUB_MQTT_URL: `mqtt://127.0.0.1:${port}` }, { attachTo: hub });
    const notices = other.services.updateNotices;
    try {
      const r = await draftRelease(other);
      const offered = (await hub.services.deliveryStatus.offeredDevices(r)).map((d) => d.activationId);
      expect(offered.length).toBeGreaterThanOrEqual(FLEET);
      const sub = await subscribe(broker);
      notices.releaseAvailable(r);
      // Killed once the devices are being told: some acknowledged, most not yet.
      await waitFor(() => notices.counts.published >= 50, 20_000, () => `published ${notices.counts.published}`);
      broker.signal('SIGKILL');
      await notices.settle();
      await sub.end();
      const acknowledged = notices.counts.published;
      expect(notices.counts.failed).toBe(1);
      expect(acknowledged).toBeGreaterThanOrEqual(50);
      expect(acknowledged).toBeLessThan(offered.length);
      // Exactly the acknowledged devices are marked as told; the others are free for the next send.
      expect(await told(r)).toBe(acknowledged);

      // The broker back where it was: the release's next change tells the devices left, and only those.
      await broker.stop(); // the killed one: its folder
      broker = await startMosquitto(ANON, fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-mqtt-loss-')), port);
      const again = await subscribe(broker);
      notices.releaseAvailable(r);
      await notices.settle();
      expect(notices.counts).toEqual({ published: offered.length, failed: 1, refused: 0 });
      expect(await told(r)).toBe(offered.length);
      await waitFor(() => again.got.length >= offered.length - acknowledged, 20_000, () => `${again.got.length} of ${offered.length - acknowledged}`);
      await new Promise((res) => setTimeout(res, 200));
      expect(again.got).toHaveLength(offered.length - acknowledged);
      expect(new Set(again.got).size).toBe(again.got.length);
      await again.end();
      // What an operator's dashboard shows of it.
      const metrics = await (await fetch(`${other.url}/metrics`)).text();
      expect(metrics).toContain(`ehub_update_notices_total{outcome="published"} ${offered.length}`);
      expect(metrics).toContain(`ehub_update_notices_total{outcome="released"} ${offered.length - acknowledged}`);
      expect(metrics).toMatch(/^ehub_update_notice_send_failures_total 1$/m);
    } finally {
      await other.services.updateNotices.close();
      await other.close();
      await broker.stop();
    }
  });

  it('a broker that stops answering (frozen, its connection open): the send ends at the ack timeout and releases its devices', async () => {
    const { broker, other, notices, end } = await connectedHub({ EHUB_MQTT_ACK_TIMEOUT_MS: '800' });
    try {
      broker.signal('SIGSTOP');
      const r = await draftRelease(other);
      const started = Date.now();
      notices.releaseAvailable(r);
      await notices.settle();
      const took = Date.now() - started;
      expect(notices.counts).toMatchObject({ published: FLEET, failed: 1 });
      expect(took).toBeGreaterThanOrEqual(800);
      expect(await told(r)).toBe(0);

      // Answering again: the next change tells every device, on a fresh connection.
      broker.signal('SIGCONT');
      notices.releaseAvailable(r);
      await notices.settle();
      expect(notices.counts).toMatchObject({ published: 2 * FLEET, failed: 1 });
      expect(await told(r)).toBe(FLEET);
    } finally {
      await end();
    }
  });

  it('close() while a frozen broker holds a send: it stops the send after its grace, releasing the devices, instead of holding the shutdown', async () => {
    // A long ack timeout: only close() can end this send in time.
    const { broker, other, notices, end } = await connectedHub({ EHUB_MQTT_ACK_TIMEOUT_MS: '120000' });
    try {
      broker.signal('SIGSTOP');
      const r = await draftRelease(other);
      notices.releaseAvailable(r);
      await waitFor(() => notices['pending'].size === 1, 5_000, () => 'no send under way');
      await new Promise((res) => setTimeout(res, 300)); // the send is waiting for PUBACKs
      const started = Date.now();
      await notices.close(500);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(500);
      expect(took).toBeLessThan(10_000);
      expect(notices.counts).toMatchObject({ published: FLEET, failed: 1 });
      expect(await told(r)).toBe(0);
    } finally {
      await end();
    }
  });

  it('close(null), as a CLI command closes: waits past the default grace for a send that a broker paused for 4 s then finishes', async () => {
    const { broker, other, notices, end } = await connectedHub();
    try {
      broker.signal('SIGSTOP');
      const r = await draftRelease(other);
      notices.releaseAvailable(r);
      const resume = setTimeout(() => broker.signal('SIGCONT'), 4_000);
      const started = Date.now();
      await notices.close(null);
      clearTimeout(resume);
      expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
      // Nothing given up: every device of the second release was told once the broker answered.
      expect(notices.counts).toEqual({ published: 2 * FLEET, failed: 0, refused: 0 });
      expect(await told(r)).toBe(FLEET);
    } finally {
      await end();
    }
  });

  it('a broker that never answers the connection (TCP accepted, no CONNACK): the send fails after the connect timeout, and a CLI close does not hang', async () => {
    const sockets = new Set<net.Socket>();
    // Reads (so it sees the hub hang up) and never answers.
    const silent = (sock: net.Socket) => {
      sockets.add(sock);
      sock.resume();
      sock.on('close', () => sockets.delete(sock));
    };
    await withFakeBroker(silent, async (other) => {
      const notices = other.services.updateNotices;
      const r = await draftRelease(other);
      const started = Date.now();
      notices.releaseAvailable(r);
      await notices.close(null);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(notices.counts).toEqual({ published: 0, failed: 1, refused: 0 });
      expect(await told(r)).toBe(0);
      // The attempt's connection is closed, not left open (nor retried).
      await waitFor(() => sockets.size === 0, 5_000, () => `${sockets.size} connections still open`);
      expect(sockets.size).toBe(0);
    });
  });

  it('a broker that hangs up on every connection before its CONNACK: the send fails at once instead of retrying for ever', async () => {
    let accepted = 0;
    const rude = (sock: net.Socket) => {
      accepted++;
      sock.destroy();
    };
    await withFakeBroker(rude, async (other) => {
      const notices = other.services.updateNotices;
      const r = await draftRelease(other);
      notices.releaseAvailable(r);
      await notices.close(null);
      expect(notices.counts).toEqual({ published: 0, failed: 1, refused: 0 });
      expect(await told(r)).toBe(0);
      // One attempt, not a reconnect every 5 s in the background.
      await new Promise((res) => setTimeout(res, 6_000));
      expect(accepted).toBe(1);
    });
  });
});
