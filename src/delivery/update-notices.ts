import fs from 'node:fs';
import type { Logger } from 'pino';
import { tlsFilesProblem } from '../common/files';
import type { Db } from '../db/db';
import type { DeliveryStatusService } from './delivery-status.service';

/** Which devices have been told of which release (ADR 0065). */
export interface NoticeLedger {
  /** Of `activationIds`, those not told of the release yet, now marked as told (atomically: a concurrent claim gets none of them). */
  claim(releaseId: string, activationIds: string[]): Promise<Set<string>>;
  /** Marks them as not told (their notices could not be published). */
  unclaim(releaseId: string, activationIds: string[]): Promise<void>;
  /** Every device of the release as not told (a resumed rollout tells them again). */
  forget(releaseId: string): Promise<void>;
}

/** The ledger in table update_notice. */
export function noticeLedger(db: Db): NoticeLedger {
  const m = () => db.manager;
  return {
    async claim(releaseId, activationIds) {
      const rows: { activation_id: string }[] = await m().query(
        `INSERT INTO update_notice (release_id, activation_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING activation_id`,
        [releaseId, activationIds],
      );
      return new Set(rows.map((r) => r.activation_id));
    },
    async unclaim(releaseId, activationIds) {
      await m().query(`DELETE FROM update_notice WHERE release_id = $1 AND activation_id = ANY($2::uuid[])`, [releaseId, activationIds]);
    },
    async forget(releaseId) {
      await m().query(`DELETE FROM update_notice WHERE release_id = $1`, [releaseId]);
    },
  };
}

/** What a connected MQTT client needs (MQTT.js's `MqttClient`, narrowed). */
interface Publisher {
  publishAsync(topic: string, message: string, opts: { qos: 1; retain: boolean }): Promise<unknown>;
  endAsync(force?: boolean): Promise<void>;
}

/**
 * "Update available" notices over MQTT (issue 14 part 3, docs/delivery.md#update-notices): with
 * EHUB_MQTT_URL set, when a release becomes available to devices — published without a
 * rollout, a rollout started, advanced or resumed by an operator — the hub publishes a small
 * JSON notice `{ "release", "product", "version" }` (no URL, no secret: the device polls
 * for its links with its own token) to `ehub/<accountId>/devices/<deviceId>/update`, QoS 1,
 * not retained, for every device that would now be offered it and has not been told of it yet
 * (table update_notice, ADR 0065: one notice per device and release, across changes that
 * follow each other quickly and across instances; a resumed rollout tells its devices again).
 * Devices may then poll seldom.
 *
 * Never in the way: notices go out after the change committed, in the background; a broker
 * that is down or refuses is logged and counted, and the change stands. Unset: nothing.
 */
/** TLS files for a broker with a private CA or client certificates (EHUB_MQTT_TLS_CA, _CERT, _KEY: paths). */
export interface MqttTlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** How to reach the broker: TLS files and the protocol (EHUB_MQTT_PROTOCOL_VERSION: 5, or 4 = MQTT 3.1.1). */
export interface MqttConnection extends MqttTlsFiles {
  protocolVersion?: 4 | 5;
}

/**
 * The broker refused this one notice (an MQTT 5 PUBACK with a reason code of 0x80 or more, e.g.
 * 0x87 not authorized by its ACL): the connection is fine, the next device is tried.
 */
function refusedByBroker(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' && code >= 0x80;
}

/** A file of EHUB_MQTT_TLS_* that cannot be read, or a certificate without its key: the hub does not start. */
export class MqttTlsConfigError extends Error {
  constructor(message: string) {
    super(`EHUB_MQTT_TLS: ${message}`);
    this.name = 'MqttTlsConfigError';
  }
}

function checkTlsFiles(tls: MqttTlsFiles): void {
  const problem = tlsFilesProblem(
    [
      { variable: 'EHUB_MQTT_TLS_CA', file: tls.ca },
      { variable: 'EHUB_MQTT_TLS_CERT', file: tls.cert },
      { variable: 'EHUB_MQTT_TLS_KEY', file: tls.key },
    ],
    [tls.cert, tls.key],
    'EHUB_MQTT_TLS_CERT and EHUB_MQTT_TLS_KEY',
  );
  if (problem) throw new MqttTlsConfigError(problem);
}

/**
 * The broker URL without its user info, and the user and password it carried (percent-decoded).
 * MQTT.js reads them from the URL itself but splits `user:pass:word` at the last colon, so a
 * password with a colon (sent as %3A) would be cut; given as options they arrive whole.
 */
export function brokerAccess(url: string): { broker: string; username?: string; password?: string } {
  const u = new URL(url);
  if (!u.username && !u.password) return { broker: url };
  const username = decodeURIComponent(u.username);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.username = '';
  u.password = '';
  return { broker: u.toString(), username, password };
}

export class UpdateNotices {
  private client: Promise<Publisher> | null = null;
  /**
   * Since start (tests and logs): notices published; sends that failed (no broker, a lost
   * connection); notices the broker refused one by one (MQTT 5 reason codes).
   */
  readonly counts = { published: 0, failed: 0, refused: 0 };
  private pending = new Set<Promise<void>>();

  constructor(
    private readonly url: string | undefined,
    private readonly ledger: NoticeLedger,
    private readonly status: DeliveryStatusService,
    private readonly log: Logger,
    /** TLS files checked here (a start-up error), read at each connection (renewed files are used). */
    private readonly connection: MqttConnection = {},
  ) {
    if (url) checkTlsFiles(connection);
  }

  get enabled(): boolean {
    return Boolean(this.url);
  }

  /**
   * Sends the notices for `releaseId` in the background (never throws). `again`: the devices
   * already told are told again (a halted rollout resumed: go ahead now).
   */
  releaseAvailable(releaseId: string, opts: { again?: boolean } = {}): void {
    if (!this.url) return;
    const work = this.send(releaseId, opts.again ?? false).catch((err: unknown) => {
      this.counts.failed++;
      this.log.warn({ err, release: releaseId }, 'update notices not sent (MQTT)');
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Waits for the notices under way (tests; shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    await this.settle();
    const c = this.client;
    this.client = null;
    if (c) await (await c.catch(() => null))?.endAsync(true).catch(() => undefined);
  }

  private async send(releaseId: string, again: boolean): Promise<void> {
    const offered = await this.status.offeredDevices(releaseId);
    if (offered.length === 0) return;
    const client = await this.connect();
    if (again) await this.ledger.forget(releaseId);
    // Claim the devices not told yet: a second change, or another instance, sending for the same
    // release at the same time claims none of them.
    const claimed = await this.ledger.claim(releaseId, offered.map((d) => d.activationId));
    const devices = offered.filter((d) => claimed.has(d.activationId));
    const notTold: string[] = [];
    let firstRefusal: { err: unknown; topic: string } | null = null;
    let sent = 0;
    try {
      for (const d of devices) {
        const topic = `ehub/${d.accountId}/devices/${d.activationId}/update`;
        try {
          await client.publishAsync(topic, JSON.stringify({ release: releaseId, product: d.sku, version: d.version }), { qos: 1, retain: false });
          this.counts.published++;
        } catch (err) {
          if (!refusedByBroker(err)) throw err;
          // This device's topic only (e.g. the broker's ACL): try the others; logged once per send below.
          this.counts.refused++;
          notTold.push(d.activationId);
          firstRefusal ??= { err, topic };
        }
        sent++;
      }
    } catch (err) {
      // The connection failed: the devices not reached are not told either.
      notTold.push(...devices.slice(sent).map((d) => d.activationId));
      throw err;
    } finally {
      // Claimed no longer: the next change for this release tries them again.
      if (notTold.length) {
        await this.ledger.unclaim(releaseId, notTold).catch((e: unknown) => this.log.warn({ err: e, release: releaseId }, 'update notices: devices not told stay marked as told'));
      }
    }
    if (firstRefusal) {
      this.log.warn({ err: firstRefusal.err, release: releaseId, refused: notTold.length, firstTopic: firstRefusal.topic }, 'update notices refused by the broker (MQTT): let the hub publish to ehub/+/devices/+/update');
    }
    if (devices.length) this.log.info({ release: releaseId, devices: devices.length - notTold.length, refused: notTold.length, alreadyTold: offered.length - devices.length }, 'update notices published (MQTT)');
  }

  private connect(): Promise<Publisher> {
    if (!this.client) {
      this.client = (async () => {
        const mqtt = await import('mqtt');
        const { ca, cert, key, protocolVersion = 5 } = this.connection;
        const { broker, username, password } = brokerAccess(this.url!);
        return (await mqtt.connectAsync(broker, {
          ...(username !== undefined ? { username, password } : {}),
          protocolVersion,
          connectTimeout: 5_000,
          reconnectPeriod: 5_000,
          clientId: `ehub-${Math.random().toString(36).slice(2, 10)}`,
          ...(ca ? { ca: fs.readFileSync(ca) } : {}),
          ...(cert && key ? { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } : {}),
        })) as unknown as Publisher;
      })();
      // A failed connection is forgotten, so the next notice tries again.
      this.client.catch(() => (this.client = null));
    }
    return this.client;
  }
}
