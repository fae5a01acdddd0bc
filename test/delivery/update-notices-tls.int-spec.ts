import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { brokerAccess, MqttTlsConfigError, UpdateNotices, type NoticeLedger } from '../../src/delivery/update-notices';
import type { DeliveryStatusService } from '../../src/delivery/delivery-status.service';
import { passwordFile, startMosquitto, type Mosquitto } from '../support/mosquitto';
import { makeTlsFiles, type TlsFiles } from '../support/tls-files';

/*
 * Update notices to a broker that wants TLS with a private CA, a client certificate and a
 * password (EHUB_MQTT_TLS_*, a user and password in EHUB_MQTT_URL): a Mosquitto of this file's
 * own, a real MQTT.js subscriber with its own certificate. Which devices are told is the
 * delivery rules' business (test/delivery/update-notices.int-spec.ts); here two devices stand
 * for them, and what is tested is the way to the broker.
 */
const PASSWORD = 'n0t1ce:s3cret';
const DEVICES = [
  { activationId: 'a1', accountId: 'acc-1', version: '2.4.0', sku: 'GW-FW' },
  { activationId: 'a2', accountId: 'acc-1', version: '2.4.0', sku: 'GW-FW' },
];
const status = { offeredDevices: async () => DEVICES } as unknown as DeliveryStatusService;
// This file is about reaching the broker: every device counts as not told yet (the ledger in PostgreSQL is tested in update-notices.int-spec.ts).
const everyDeviceNew: NoticeLedger = { claim: async (_r, ids) => new Set(ids), unclaim: async () => undefined, forget: async () => undefined };
const log = pino({ level: 'silent' });

let dir: string;
let tls: TlsFiles;
let broker: Mosquitto;
let sub: mqtt.MqttClient;
const got: { topic: string; body: unknown }[] = [];
let url: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-mqtt-tls-'));
  tls = makeTlsFiles(dir);
  const passwords = passwordFile(dir, 'ehub', PASSWORD);
  broker = await startMosquitto(
    [`cafile ${tls.ca}`, `certfile ${tls.serverCert}`, `keyfile ${tls.serverKey}`, 'require_certificate true', 'allow_anonymous false', `password_file ${passwords}`].join('\n'),
    fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-mosquitto-')),
  );
  url = `mqtts://ehub:${encodeURIComponent(PASSWORD)}@127.0.0.1:${broker.port}`;
  // MQTT.js would split "ehub:n0t1ce:s3cret" from a URL at the last colon: the subscriber gives them as options.
  sub = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.port}`, { username: 'ehub', password: PASSWORD, clientId: `sub-${Date.now()}`, ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.clientCert), key: fs.readFileSync(tls.clientKey), reconnectPeriod: 0 });
  await sub.subscribeAsync('ehub/+/devices/+/update', { qos: 1 });
  sub.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString('utf8')) }));
}, 60_000);

afterAll(async () => {
  await sub?.endAsync(true);
  await broker?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function notify(notices: UpdateNotices): Promise<void> {
  notices.releaseAvailable('rel-1');
  await notices.settle();
  await notices.close();
}

describe('update notices over TLS with a client certificate and a password', () => {
  jest.setTimeout(60_000);

  it('takes the user and password out of the URL whole (a colon in the password included)', () => {
    expect(brokerAccess(url)).toEqual({ broker: `mqtts://127.0.0.1:${broker.port}`, username: 'ehub', password: PASSWORD });
    expect(brokerAccess('mqtt://127.0.0.1:1883')).toEqual({ broker: 'mqtt://127.0.0.1:1883' });
  });

  it('with the CA, the client certificate and the password (with a colon) from the URL, every device gets its notice', async () => {
    const notices = new UpdateNotices(url, everyDeviceNew, status, log, { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey });
    await notify(notices);
    expect(notices.counts).toEqual({ published: 2, failed: 0, refused: 0 });
    const until = Date.now() + 10_000;
    while (got.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(got.map((g) => g.topic).sort()).toEqual(['ehub/acc-1/devices/a1/update', 'ehub/acc-1/devices/a2/update']);
    expect(got[0]!.body).toEqual({ release: 'rel-1', product: 'GW-FW', version: '2.4.0' });
  });

  it('without the CA, without the client certificate, or with a wrong password, nothing is sent and the failure is counted', async () => {
    got.length = 0;
    const cases = [
      new UpdateNotices(url, everyDeviceNew, status, log, { cert: tls.clientCert, key: tls.clientKey }),
      new UpdateNotices(url, everyDeviceNew, status, log, { ca: tls.ca }),
      new UpdateNotices(url.replace(encodeURIComponent(PASSWORD), 'wrong'), everyDeviceNew, status, log, { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey }),
    ];
    for (const notices of cases) {
      await notify(notices);
      expect(notices.counts).toEqual({ published: 0, failed: 1, refused: 0 });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([]);
  });

  it('refuses at construction (a start-up error) a certificate without its key and a file that cannot be read', () => {
    expect(() => new UpdateNotices(url, everyDeviceNew, status, log, { cert: tls.clientCert })).toThrow(MqttTlsConfigError);
    expect(() => new UpdateNotices(url, everyDeviceNew, status, log, { cert: tls.clientCert })).toThrow(/EHUB_MQTT_TLS_CERT and EHUB_MQTT_TLS_KEY go together/);
    expect(() => new UpdateNotices(url, everyDeviceNew, status, log, { ca: path.join(dir, 'missing.pem') })).toThrow(/EHUB_MQTT_TLS_CA=.*missing\.pem cannot be read \(ENOENT\)/);
    // Without EHUB_MQTT_URL the files are not looked at (nothing is sent anyway).
    expect(() => new UpdateNotices(undefined, everyDeviceNew, status, log, { ca: path.join(dir, 'missing.pem') })).not.toThrow();
  });
});
