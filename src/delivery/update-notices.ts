import fs from 'node:fs';
import client from 'prom-client';
import type { Logger } from 'pino';
import { tlsFilesProblem } from '../common/files';
import { settlesWithin } from '../common/timing';
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
  once(event: 'close', listener: () => void): unknown;
  /** The broker's CONNACK: under MQTT 5 its Receive Maximum bounds the notices awaiting a PUBACK. */
  connackPacket?: { properties?: { receiveMaximum?: number } };
}

/** A connection in use until it closes once; `gone` aborts then (or when it is dropped). */
interface Connection {
  client: Publisher;
  gone: AbortController;
}

/**
 * Notices awaiting their PUBACK at once, per send (a QoS 1 round trip each, overlapped), or
 * fewer when the broker's Receive Maximum says so (MQTT 5; Mosquitto's is 20 by default).
 */
const WINDOW = 64;
/** How long close() lets the sends under way finish before it stops them. */
const CLOSE_GRACE_MS = 3_000;
/** How long a connection may take (TCP, TLS, CONNECT/CONNACK) before the send fails. */
const CONNECT_TIMEOUT_MS = 5_000;

/** A send stopped before every device was told: the connection was lost, the broker went quiet, the hub is stopping. */
export class NoticeSendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoticeSendError';
  }
}

/** A promise that rejects with the signal's reason once it aborts (never resolves). */
function aborted(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => undefined as void;
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined);
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
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

/**
 * How to reach the broker: TLS files, the protocol (EHUB_MQTT_PROTOCOL_VERSION: 5, or 4 = MQTT
 * 3.1.1), and how long a notice may wait for the broker's PUBACK (EHUB_MQTT_ACK_TIMEOUT_MS).
 */
export interface MqttConnection extends MqttTlsFiles {
  protocolVersion?: 4 | 5;
  ackTimeoutMs?: number;
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

/** Metrics of the notices, registered into the hub's registry by app.ts when EHUB_MQTT_URL is set. */
export class UpdateNoticeMetrics {
  readonly notices = new client.Counter({
    name: 'ehub_update_notices_total',
    help: 'Update notices by outcome: published (the broker acknowledged), refused (by the broker, e.g. its ACL), released (not acknowledged when a send ended: told at the release\'s next change)',
    labelNames: ['outcome'] as const,
    registers: [],
  });
  readonly failedSends = new client.Counter({
    name: 'ehub_update_notice_send_failures_total',
    help: 'Sends of update notices that ended before every device was told: no broker, a lost connection, no PUBACK within EHUB_MQTT_ACK_TIMEOUT_MS, the hub stopping',
    registers: [],
  });
  all(): client.Metric[] {
    return [this.notices, this.failedSends];
  }
}

export class UpdateNotices {
  private connection: Promise<Connection> | null = null;
  readonly metrics = new UpdateNoticeMetrics();
  /**
   * Since start (tests and logs): notices published; sends that failed (no broker, a lost
   * connection, no acknowledgement in time, the hub stopping); notices the broker refused one
   * by one (MQTT 5 reason codes).
   */
  readonly counts = { published: 0, failed: 0, refused: 0 };
  private pending = new Set<Promise<void>>();
  /** Aborted when close() gives up waiting: the sends under way stop and release their devices. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly url: string | undefined,
    private readonly ledger: NoticeLedger,
    private readonly status: DeliveryStatusService,
    private readonly log: Logger,
    /** TLS files checked here (a start-up error), read at each connection (renewed files are used). */
    private readonly options: MqttConnection = {},
  ) {
    if (url) checkTlsFiles(options);
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
      this.metrics.failedSends.inc();
      this.log.warn({ err, release: releaseId }, 'update notices not sent (MQTT): the devices not acknowledged are told at the release\'s next change');
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Waits for the notices under way (tests; shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /**
   * Lets the sends under way finish for up to `graceMs`, then stops them (their devices not
   * acknowledged yet are released, to be told at the release's next change) and closes the
   * connection. Bounded: a broker gone quiet mid-send does not hold a shutdown. `null`: waits
   * for the sends to end on their own (a CLI command: each is bounded by the ack timeout).
   */
  async close(graceMs: number | null = CLOSE_GRACE_MS): Promise<void> {
    if (!(await settlesWithin(this.settle(), graceMs))) {
      this.log.warn({ sends: this.pending.size, graceMs }, 'update notices: stopping the sends under way; the devices not acknowledged are told at the release\'s next change');
      this.stopping.abort(new NoticeSendError('the hub is stopping'));
      await this.settle();
    }
    const c = this.connection;
    this.connection = null;
    if (c) await this.drop(await c.catch(() => null));
  }

  private async send(releaseId: string, again: boolean): Promise<void> {
    const offered = await this.status.offeredDevices(releaseId);
    if (offered.length === 0) return;
    const stop = aborted(this.stopping.signal);
    const connection = await Promise.race([this.connect(), stop.promise]).finally(() => stop.dispose());
    if (again) await this.ledger.forget(releaseId);
    // Claim the devices not told yet: a second change, or another instance, sending for the same
    // release at the same time claims none of them.
    const claimed = await this.ledger.claim(releaseId, offered.map((d) => d.activationId));
    const devices = offered.filter((d) => claimed.has(d.activationId));
    const { notTold, refused, firstRefusal, failure } = await this.publishAll(connection, releaseId, devices);
    // Claimed no longer: the next change for this release tries them again.
    if (notTold.length) {
      await this.ledger.unclaim(releaseId, notTold).catch((e: unknown) => this.log.warn({ err: e, release: releaseId }, 'update notices: devices not told stay marked as told'));
    }
    if (failure) {
      // Not used again: MQTT.js would resend its queue on a reconnect, to devices released above.
      await this.drop(connection);
      throw failure;
    }
    if (firstRefusal) {
      this.log.warn({ err: firstRefusal.err, release: releaseId, refused, firstTopic: firstRefusal.topic }, 'update notices refused by the broker (MQTT): let the hub publish to ehub/+/devices/+/update');
    }
    if (devices.length) this.log.info({ release: releaseId, devices: devices.length - notTold.length, refused, alreadyTold: offered.length - devices.length }, 'update notices published (MQTT)');
  }

  /**
   * Publishes one notice per device, up to WINDOW awaiting their PUBACK at once. A notice the
   * broker refuses leaves that device out; a lost connection, a PUBACK later than the ack
   * timeout or the hub stopping ends the send: the devices not acknowledged are `notTold`.
   */
  private async publishAll(
    connection: Connection,
    releaseId: string,
    devices: { activationId: string; accountId: string; version: string; sku: string }[],
  ): Promise<{ notTold: string[]; refused: number; firstRefusal: { err: unknown; topic: string } | null; failure: unknown }> {
    const ackTimeoutMs = this.options.ackTimeoutMs ?? 10_000;
    const gone = aborted(connection.gone.signal);
    const stop = aborted(this.stopping.signal);
    const notTold: string[] = [];
    let refused = 0;
    let firstRefusal: { err: unknown; topic: string } | null = null;
    let failure: unknown = null;
    let next = 0;
    const lane = async () => {
      while (failure === null && next < devices.length) {
        const d = devices[next++]!;
        const topic = `ehub/${d.accountId}/devices/${d.activationId}/update`;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new NoticeSendError(`the MQTT broker did not acknowledge a notice within ${ackTimeoutMs} ms (EHUB_MQTT_ACK_TIMEOUT_MS)`)), ackTimeoutMs);
        });
        try {
          const body = JSON.stringify({ release: releaseId, product: d.sku, version: d.version });
          await Promise.race([connection.client.publishAsync(topic, body, { qos: 1, retain: false }), gone.promise, stop.promise, late]);
          this.counts.published++;
          this.metrics.notices.inc({ outcome: 'published' });
        } catch (err) {
          notTold.push(d.activationId);
          if (refusedByBroker(err)) {
            // This device's topic only (e.g. the broker's ACL): the others are tried; logged once per send.
            this.counts.refused++;
            this.metrics.notices.inc({ outcome: 'refused' });
            refused++;
            firstRefusal ??= { err, topic };
          } else {
            failure ??= err;
          }
        } finally {
          clearTimeout(timer);
        }
      }
    };
    try {
      const window = Math.min(WINDOW, connection.client.connackPacket?.properties?.receiveMaximum ?? WINDOW, devices.length);
      await Promise.all(Array.from({ length: window }, lane));
    } finally {
      gone.dispose();
      stop.dispose();
    }
    // Devices no lane reached (the send ended first).
    notTold.push(...devices.slice(next).map((d) => d.activationId));
    if (notTold.length > refused) this.metrics.notices.inc({ outcome: 'released' }, notTold.length - refused);
    return { notTold, refused, firstRefusal, failure };
  }

  /** Ends a connection (at once: nothing queued in it is sent later) and forgets it if it is the current one. */
  private async drop(connection: Connection | null, why = 'the connection to the MQTT broker was closed'): Promise<void> {
    if (!connection) return;
    connection.gone.abort(new NoticeSendError(why));
    const current = this.connection;
    if (current && (await current.catch(() => null)) === connection) this.connection = null;
    await connection.client.endAsync(true).catch(() => undefined);
  }

  private connect(): Promise<Connection> {
    if (!this.connection) {
      const made = (async (): Promise<Connection> => {
        const mqtt = await import('mqtt');
        const { ca, cert, key, protocolVersion = 5 } = this.options;
        const { broker, username, password } = brokerAccess(this.url!);
        // One attempt: a broker that refuses, or does not answer the CONNECT within the connect
        // timeout, fails this send (the next send tries again), and the attempt's socket is
        // destroyed. Retrying here would keep the send — and a CLI command waiting for it —
        // pending while the broker stays silent; MQTT.js's own connectAsync only half-closes it.
        const client = await new Promise<Publisher>((resolve, reject) => {
          const c = mqtt.connect(broker, {
            ...(username !== undefined ? { username, password } : {}),
            protocolVersion,
            connectTimeout: CONNECT_TIMEOUT_MS,
            reconnectPeriod: 5_000,
            clientId: `ehub-${Math.random().toString(36).slice(2, 10)}`,
            ...(ca ? { ca: fs.readFileSync(ca) } : {}),
            ...(cert && key ? { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } : {}),
          });
          const fail = (why: string) => {
            c.removeAllListeners('connect');
            c.end(true);
            reject(new NoticeSendError(`could not connect to the MQTT broker ${broker}: ${why}`));
          };
          const onError = (err: Error) => fail(err.message);
          const onClose = () => fail(`no CONNACK within ${CONNECT_TIMEOUT_MS} ms, or the connection closed`);
          c.once('error', onError);
          c.once('close', onClose);
          c.once('connect', () => {
            c.off('error', onError);
            c.off('close', onClose);
            c.on('error', () => undefined); // later errors end in 'close', handled below
            resolve(c as unknown as Publisher);
          });
        });
        const connection: Connection = { client, gone: new AbortController() };
        // Lost once, used no more: the sends on it stop, and the next send connects afresh.
        client.once('close', () => void this.drop(connection, 'the connection to the MQTT broker was lost'));
        return connection;
      })();
      this.connection = made;
      // A failed connection is forgotten, so the next notice tries again.
      made.catch(() => {
        if (this.connection === made) this.connection = null;
      });
    }
    return this.connection;
  }
}
