import crypto from 'node:crypto';
import type { Logger } from 'pino';
import client from 'prom-client';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Config } from '../config';
import type { Principal, RequestContext } from '../common/context';
import { AppError } from '../common/errors';
import type { UsageBatchAnswer, UsageService } from './usage.service';
import { explainConnectError, streamAccess, StreamAccessError } from './usage.stream-access';
import { isRejection, type ParsedUsageEvent, type UsageEventDraft, type UsageRejection } from './usage.rules';
import { settlesWithin } from '../common/timing';

/** What one stream message holds: a slice of an accepted batch, with who sent it (for the account scope and the audit row). */
export interface UsageStreamMessage {
  v: 1;
  /** The request that queued it (the audit row and logs of the write name it). */
  r: string;
  p: Principal | null;
  e: UsageEventDraft[];
}

/** Room kept in a message for its envelope and headers below the server's max_payload. */
const ENVELOPE_BYTES = 4096;
const PUBLISH_TIMEOUT_MS = 5_000;
const MAX_BACKOFF_MS = 5_000;
/** How long stop() waits for the connection to drain before closing it. */
const DRAIN_MS = 2_000;

/** Metrics of the stream path, registered into the hub's registry by app.ts. */
export class UsageStreamMetrics {
  readonly published = new client.Counter({ name: 'ehub_usage_stream_published_events_total', help: 'Usage events queued into the stream (JetStream acknowledged), by whether JetStream dropped the message as a duplicate', labelNames: ['duplicate'] as const, registers: [] });
  readonly written = new client.Counter({ name: 'ehub_usage_stream_written_events_total', help: 'Usage events the consumer of this instance wrote, by outcome (accepted, duplicate, conflict, rejected)', labelNames: ['outcome'] as const, registers: [] });
  readonly failures = new client.Counter({ name: 'ehub_usage_stream_write_failures_total', help: 'Stream batches whose write failed (not acknowledged: redelivered later)', registers: [] });
  readonly publishFailures = new client.Counter({ name: 'ehub_usage_stream_publish_failures_total', help: 'Ingest requests answered 503 because JetStream did not acknowledge', registers: [] });
  /** Set by the consumer loop from the consumer's info: batches in the stream not yet delivered, and delivered but not acknowledged. */
  readonly pending = new client.Gauge({ name: 'ehub_usage_stream_pending_messages', help: 'Usage stream messages (batches) waiting: pending = not yet delivered, ack_pending = delivered, not yet written', labelNames: ['state'] as const, registers: [] });
  all(): client.Metric[] {
    return [this.published, this.written, this.failures, this.publishFailures, this.pending];
  }
}

/**
 * Usage through NATS JetStream (ADR 0049): ingest publishes accepted events and answers on
 * JetStream's ack; a durable pull consumer shared by every instance writes them through
 * UsageService.ingest (the same path as direct ingest) and acks after the commit. Exactly
 * once comes from the event-id idempotency in PostgreSQL; JetStream's message ids drop a
 * re-sent batch before it reaches the database.
 */
export class UsageStream {
  readonly metrics = new UsageStreamMetrics();
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private stopping = false;
  private loop?: Promise<void>;
  private current?: ConsumerMessages;
  private lagTimer?: NodeJS.Timeout;
  private maxPayload = 1_048_576;
  /** False while the connection to NATS is down: a publish then fails at once instead of sitting in the reconnect buffer. */
  private connected = false;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  get streamName(): string {
    return this.config.EHUB_USAGE_STREAM_NAME;
  }

  /** Connects, makes sure the stream and the durable consumer exist, and (unless EHUB_USAGE_STREAM_CONSUME=false) starts consuming. */
  async start(usage: UsageService): Promise<void> {
    const c = this.config;
    const access = streamAccess(c);
    const servers = access.display;
    const timeout = c.EHUB_USAGE_STREAM_CONNECT_TIMEOUT_MS;
    this.nc = await connect({ servers: access.servers, ...access.options, name: 'ehub', timeout, maxReconnectAttempts: -1, reconnectTimeWait: 500 }).catch((err: Error) => {
      throw new StreamAccessError(explainConnectError(err, access.display, timeout, Boolean(access.options.tls)));
    });
    this.maxPayload = this.nc.info?.max_payload ?? this.maxPayload;
    this.connected = true;
    const nc = this.nc;
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === 'disconnect') {
          this.connected = false;
          this.log.warn({ server: st.server }, 'usage stream: NATS disconnected; ingest answers 503 until it is back');
        } else if (st.type === 'reconnect') {
          this.connected = true;
          this.log.info({ server: st.server }, 'usage stream: NATS reconnected');
        }
      }
    })().catch(() => undefined);
    this.jsm = await jetstreamManager(this.nc);
    this.js = jetstream(this.nc);
    const stream = {
      name: c.EHUB_USAGE_STREAM_NAME,
      subjects: [c.EHUB_USAGE_STREAM_SUBJECT],
      storage: StorageType.File,
      // A work queue: a batch leaves the stream once a consumer acknowledged it (written to PostgreSQL).
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(c.EHUB_USAGE_STREAM_DUPLICATE_WINDOW_MS),
    };
    try {
      await this.jsm.streams.info(stream.name);
      await this.jsm.streams.update(stream.name, { subjects: stream.subjects, duplicate_window: stream.duplicate_window });
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw err;
      await this.jsm.streams.add(stream);
      this.log.info({ stream: stream.name, subject: c.EHUB_USAGE_STREAM_SUBJECT }, 'usage stream created');
    }
    const consumer = {
      durable_name: c.EHUB_USAGE_STREAM_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(c.EHUB_USAGE_STREAM_ACK_WAIT_MS),
      max_ack_pending: c.EHUB_USAGE_STREAM_MAX_ACK_PENDING,
      max_deliver: -1,
    };
    try {
      await this.jsm.consumers.info(stream.name, consumer.durable_name);
      await this.jsm.consumers.update(stream.name, consumer.durable_name, { ack_wait: consumer.ack_wait, max_ack_pending: consumer.max_ack_pending });
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw err;
      await this.jsm.consumers.add(stream.name, consumer);
    }
    this.log.info({ servers, auth: access.auth, tls: Boolean(access.options.tls), stream: stream.name, consumer: consumer.durable_name, consuming: c.EHUB_USAGE_STREAM_CONSUME }, 'usage goes through the stream');
    if (c.EHUB_USAGE_STREAM_CONSUME) {
      this.loop = this.consumeLoop(usage);
      this.lagTimer = setInterval(() => void this.readLag(), 5_000);
      this.lagTimer.unref();
    }
  }

  /** Publishes the valid events of a batch (in slices under max_payload) and answers once JetStream has them all. */
  async publish(ctx: RequestContext, events: ParsedUsageEvent[]): Promise<UsageBatchAnswer> {
    const rejected: UsageRejection[] = [];
    const drafts: UsageEventDraft[] = [];
    for (const e of events) {
      if (isRejection(e)) rejected.push(e);
      else drafts.push(e);
    }
    let accepted = 0;
    let duplicates = 0;
    const principal = ctx.principal;
    for (const slice of this.slices(drafts)) {
      const msg: UsageStreamMessage = { v: 1, r: ctx.requestId, p: principal, e: slice };
      try {
        if (!this.js || this.stopping) throw new Error('the hub is stopping');
        // Not connected: refuse now, so that a 503 never leaves a message in the client's reconnect buffer to arrive later.
        if (!this.connected) throw new Error('not connected to NATS');
        const ack = await this.js.publish(this.config.EHUB_USAGE_STREAM_SUBJECT, JSON.stringify(msg), { msgID: messageId(principal, slice), timeout: PUBLISH_TIMEOUT_MS });
        if (ack.duplicate) duplicates += slice.length;
        else accepted += slice.length;
        this.metrics.published.inc({ duplicate: String(ack.duplicate) }, slice.length);
      } catch (err) {
        this.metrics.publishFailures.inc();
        ctx.log.warn({ err: (err as Error).message, queuedEvents: accepted + duplicates }, 'usage stream: JetStream did not acknowledge');
        throw new AppError(
          'UPSTREAM_UNAVAILABLE',
          'USAGE_STREAM_UNAVAILABLE',
          'The usage stream (NATS JetStream) did not take the batch; send the same batch again (events are stored exactly once by id)',
          { retryable: true },
        );
      }
    }
    rejected.sort((a, b) => a.index - b.index);
    return { accepted, duplicates, conflicts: 0, rejected, queued: accepted + duplicates };
  }

  /** Slices the drafts so each message stays under the server's max_payload; deterministic, so a re-sent batch gets the same message ids. */
  private *slices(drafts: UsageEventDraft[]): Generator<UsageEventDraft[]> {
    const limit = this.maxPayload - ENVELOPE_BYTES;
    let slice: UsageEventDraft[] = [];
    let bytes = 0;
    for (const d of drafts) {
      const size = Buffer.byteLength(JSON.stringify(d)) + 1;
      if (slice.length > 0 && bytes + size > limit) {
        yield slice;
        slice = [];
        bytes = 0;
      }
      slice.push(d);
      bytes += size;
    }
    if (slice.length > 0) yield slice;
  }

  private async consumeLoop(usage: UsageService): Promise<void> {
    const c = this.config;
    let backoff = 0;
    let consumer: Consumer | undefined;
    while (!this.stopping) {
      try {
        if (backoff > 0) await sleep(backoff);
        if (this.stopping) break;
        consumer ??= await this.js!.consumers.get(c.EHUB_USAGE_STREAM_NAME, c.EHUB_USAGE_STREAM_CONSUMER);
        const msgs = await consumer.fetch({ max_messages: c.EHUB_USAGE_STREAM_PULL_BATCH, expires: 2_000 });
        this.current = msgs;
        let failed = false;
        for await (const m of msgs) {
          if (this.stopping || failed) {
            // Not ours to write now: give it back at once (stopping) or after the backoff (the database failed).
            m.nak(this.stopping ? 0 : backoff);
            continue;
          }
          if (await this.handle(usage, m)) backoff = 0;
          else {
            failed = true;
            backoff = Math.min(MAX_BACKOFF_MS, Math.max(250, backoff * 2));
          }
        }
        this.current = undefined;
      } catch (err) {
        this.current = undefined;
        consumer = undefined; // looked up again (NATS may have restarted)
        if (this.stopping) break;
        backoff = Math.min(MAX_BACKOFF_MS, Math.max(250, backoff * 2));
        this.log.warn({ err: (err as Error).message, retryInMs: backoff }, 'usage stream: pulling failed');
      }
    }
  }

  /** Writes one message through the usage write path; acks after the commit. False when the write failed (the message is nak'ed). */
  private async handle(usage: UsageService, m: JsMsg): Promise<boolean> {
    let msg: UsageStreamMessage;
    try {
      msg = m.json<UsageStreamMessage>();
      if (msg.v !== 1 || !Array.isArray(msg.e)) throw new Error(`unknown message version ${String(msg.v)}`);
    } catch (err) {
      // Nothing can ever write it: say so loudly and drop it (it cannot come from this hub's publish).
      this.log.error({ err: (err as Error).message, seq: m.seq }, 'usage stream: unreadable message dropped');
      m.term('unreadable');
      return true;
    }
    const ctx: RequestContext = {
      requestId: msg.r,
      log: this.log.child({ reqId: msg.r, streamSeq: m.seq }),
      principal: msg.p,
      operation: 'usage stream',
      auditWrites: 0,
    };
    // Keep the message ours while the transaction runs (a slow write must not be redelivered meanwhile).
    const keepAlive = setInterval(() => m.working(), Math.max(500, Math.floor(this.config.EHUB_USAGE_STREAM_ACK_WAIT_MS / 3)));
    try {
      const answer = await usage.ingest(ctx, msg.e);
      clearInterval(keepAlive);
      try {
        await m.ackAck();
      } catch (err) {
        // Committed but the ack was lost: the message comes again and its events then count as duplicates.
        this.log.warn({ err: (err as Error).message, seq: m.seq }, 'usage stream: ack not confirmed; the batch may be redelivered (its events are then duplicates)');
      }
      this.metrics.written.inc({ outcome: 'accepted' }, answer.accepted);
      this.metrics.written.inc({ outcome: 'duplicate' }, answer.duplicates);
      this.metrics.written.inc({ outcome: 'conflict' }, answer.conflicts);
      this.metrics.written.inc({ outcome: 'rejected' }, answer.rejected.length - answer.conflicts);
      if (answer.rejected.length > 0) {
        // After the answer was given: the sender cannot see these, so they are logged (and counted in the batch's audit row).
        ctx.log.warn({ rejected: answer.rejected.slice(0, 20), count: answer.rejected.length }, 'usage stream: events rejected when written');
      }
      return true;
    } catch (err) {
      clearInterval(keepAlive);
      this.metrics.failures.inc();
      ctx.log.warn({ err: (err as Error).message, seq: m.seq, deliveries: m.info.deliveryCount }, 'usage stream: write failed; the batch stays in the stream');
      m.nak(1_000);
      return false;
    }
  }

  private async readLag(): Promise<void> {
    try {
      const info = await this.jsm!.consumers.info(this.config.EHUB_USAGE_STREAM_NAME, this.config.EHUB_USAGE_STREAM_CONSUMER);
      this.metrics.pending.set({ state: 'pending' }, info.num_pending);
      this.metrics.pending.set({ state: 'ack_pending' }, info.num_ack_pending);
    } catch {
      // NATS away: the gauges keep their last value; pulling logs the outage.
    }
  }

  /**
   * Graceful stop: no new publishes, the batch being written finishes and is acked, the rest
   * pulled is given back; then the connection drains — for DRAIN_MS at most: a NATS server gone
   * quiet with the connection open never answers the drain's flush, and would hold the
   * shutdown until EHUB_SHUTDOWN_TIMEOUT_MS ended the process unclean. Then it is closed.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.current?.stop();
    await this.loop?.catch(() => undefined);
    if (!this.nc) return;
    if (!(await settlesWithin(this.nc.drain(), DRAIN_MS))) {
      this.log.warn({ drainMs: DRAIN_MS }, 'usage stream: NATS did not answer the drain; connection closed');
      await this.nc.close().catch(() => undefined);
    }
  }
}

/** The message id JetStream deduplicates on: the events' idempotency keys (account, source, id) and content hashes, and the sender's scope. */
export function messageId(principal: Principal | null, events: UsageEventDraft[]): string {
  const h = crypto.createHash('sha256');
  h.update(`v1\u0000${principal?.accountId ?? ''}\u0000`);
  for (const e of events) {
    const account = e.accountId !== null ? `id:${e.accountId.toLowerCase()}` : `ref:${e.accountRef!.system}/${e.accountRef!.object}/${e.accountRef!.externalId}`;
    h.update(`${account}\u0000${e.source}\u0000${e.id}\u0000${e.hash}\u0001`);
  }
  return `usage-${h.digest('base64url')}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
