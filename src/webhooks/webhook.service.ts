import { isUuid } from '../common/ids';
import crypto from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import { systemContext, type RequestContext } from '../common/context';
import { AppError, badInput, notFound, type FieldError } from '../common/errors';
import { paginate, type Connection } from '../common/pagination';
import { SecretBox } from '../common/secret-box';
import { accountScope, assertAccountVisible } from '../auth/scope';
import type { Db } from '../db/db';
import type { DomainEventSubscriber } from '../db/events';
import { VERSION } from '../version';
import { fetch, type Agent } from 'undici';
import { EgressPolicy, guardedAgent, type LookupFn } from './webhook.egress';
import { WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEndpointStatus } from './webhook.entities';
import {
  backoffMs,
  clip,
  eventTypeProblems,
  generateWebhookSecret,
  MAX_PAYLOAD_BYTES,
  PING_EVENT_TYPE,
  RESPONSE_SNIPPET_BYTES,
  signatureHeader,
  standardSignatureHeader,
  urlProblems,
  WEBHOOK_EVENT_TYPES,
  webhookBody,
} from './webhook.rules';
import type {
  CreateWebhookEndpointInput,
  UpdateWebhookEndpointInput,
  WebhookDeliveryListArgs,
  WebhookEndpointListArgs,
  WebhookEndpointWithSecret,
  WebhookEventType,
} from './webhook.types';

/** An event to send to every subscribed endpoint (see `enqueue`). */
export interface WebhookEventInput {
  /** One of WEBHOOK_EVENT_TYPES, e.g. `usage.threshold`. */
  type: string;
  /** Deterministic idempotency key: the same key is one event however often it is enqueued. */
  key: string;
  /** The account the event is about; endpoints scoped to another account do not get it. */
  accountId?: string | null;
  /** `data` in the delivered body. */
  payload: Record<string, unknown>;
}

/** What one run of the delivery job did. */
export interface DeliveryRunSummary {
  attempted: number;
  delivered: number;
  failed: number;
  dead: number;
}

/** A delivery claimed for sending, with its event and endpoint. */
interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  attempts: number;
  type: string;
  payload: Record<string, unknown>;
  event_created_at: Date;
  account_id: string | null;
  url: string;
  secret_ciphertext: Buffer;
  previous_secret_ciphertext: Buffer | null;
  previous_secret_expires_at: Date | null;
}

interface SendResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  snippet: string | null;
}

/** Endpoints delivered to in parallel by one job run (each endpoint's queue is sequential). */
const LANES = 16;
/** A job run stops claiming after this long; the next run carries on. */
const RUN_BUDGET_MS = 50_000;
/** A claim outlives the request timeout by this much before another run may take it over. */
const CLAIM_MARGIN_MS = 60_000;
const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const SILENT = pino({ level: 'silent' });

const endpointNotFound = (id: string) =>
  new AppError('NOT_FOUND', 'WEBHOOK_ENDPOINT_NOT_FOUND', `Webhook endpoint ${id} was not found`, { entity: 'WebhookEndpoint', id });
const deliveryNotFound = (id: string) =>
  new AppError('NOT_FOUND', 'WEBHOOK_DELIVERY_NOT_FOUND', `Webhook delivery ${id} was not found`, { entity: 'WebhookDelivery', id });

/** The AES-GCM associated data of an endpoint's secrets: they only decrypt on their own row. */
export const secretContext = (endpointId: string) => `webhook_endpoint:${endpointId}:secret`;

/** The endpoint as the audit log records it: never its secrets. */
function auditView(e: WebhookEndpoint): Record<string, unknown> {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes,
    accountId: e.accountId,
    status: e.status,
    secretRotatedAt: e.secretRotatedAt ?? null,
    previousSecretExpiresAt: e.previousSecretExpiresAt ?? null,
    disabledAt: e.disabledAt ?? null,
  };
}

function deliveryAuditView(d: { id: string; status: string; attempts?: number; attemptCount?: number; endpoint_id?: string; endpointId?: string }) {
  return { id: d.id, status: d.status, attempts: d.attempts ?? d.attemptCount, endpointId: d.endpoint_id ?? d.endpointId };
}

function invalid(subCode: string, what: string, fields: FieldError[]): AppError {
  return badInput(subCode, `${what}: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`, fields);
}

/**
 * Webhook endpoints and the outbox of signed deliveries.
 *
 * Producers call `enqueue` inside their own transaction: the event and one delivery per
 * subscribed endpoint commit with the change that caused them, or not at all. The delivery
 * job (`deliverDue`) then sends them outside any transaction: it claims the oldest open
 * delivery of each endpoint with a conditional update, POSTs it, and records the outcome
 * (DELIVERED on 2xx, else FAILED with exponential backoff, DEAD after the last attempt).
 */
export class WebhookService {
  private readonly box: SecretBox;
  private readonly egress: EgressPolicy;
  private readonly agent: Agent;

  constructor(
    readonly db: Db,
    readonly config: Config,
    opts: { lookup?: LookupFn } = {},
  ) {
    this.box = new SecretBox(config);
    this.egress = new EgressPolicy(config.EHUB_WEBHOOK_ALLOWED_HOSTS);
    this.agent = guardedAgent(this.egress, { connectTimeoutMs: config.EHUB_WEBHOOK_TIMEOUT_MS, lookup: opts.lookup });
  }

  /** URL problems plus an internal address the egress policy refuses (see webhook.egress.ts). */
  private urlProblems(url: string): FieldError[] {
    const problems = urlProblems(url);
    const internal = problems.length ? null : this.egress.urlProblem(url);
    return internal ? [...problems, { path: 'input.url', message: internal }] : problems;
  }

  eventTypes(): WebhookEventType[] {
    return Object.entries(WEBHOOK_EVENT_TYPES).map(([type, description]) => ({ type, description }));
  }

  // ── endpoints ──

  async createEndpoint(ctx: RequestContext, input: CreateWebhookEndpointInput): Promise<WebhookEndpointWithSecret> {
    const url = input.url.trim();
    const problems = [...this.urlProblems(url), ...eventTypeProblems(input.eventTypes)];
    if (problems.length) throw invalid('WEBHOOK_ENDPOINT_INVALID', 'Invalid webhook endpoint', problems);
    let accountId = input.accountId ?? null;
    const scope = accountScope(ctx);
    if (scope) {
      // An account-scoped key registers endpoints for its own account only.
      if (accountId && accountId !== scope) throw notFound('Account', accountId);
      accountId = scope;
    }
    const id = crypto.randomUUID();
    const secret = generateWebhookSecret();
    const sealed = await this.box.seal(secret, secretContext(id), ctx.log);
    return this.db.tx(ctx, async (tx) => {
      if (accountId) {
        const exists = await tx.manager.query('SELECT 1 FROM account WHERE id = $1', [accountId]);
        if (exists.length === 0) throw notFound('Account', accountId);
      }
      await tx.manager.insert(WebhookEndpoint, {
        id,
        url,
        description: input.description?.trim() || null,
        eventTypes: input.eventTypes,
        accountId,
        status: WebhookEndpointStatus.ACTIVE,
        secretCiphertext: sealed,
        createdByKeyId: ctx.principal?.keyId ?? null,
      });
      const endpoint = await this.lockEndpoint(tx.manager, ctx, id);
      tx.audit({ entity: 'WebhookEndpoint', entityId: id, action: 'CREATE', after: auditView(endpoint) });
      ctx.log.info({ endpointId: id, url, eventTypes: input.eventTypes }, 'webhook endpoint created');
      return { endpoint, secret };
    });
  }

  async updateEndpoint(ctx: RequestContext, id: string, input: UpdateWebhookEndpointInput): Promise<WebhookEndpoint> {
    const url = input.url?.trim();
    const problems = [
      ...(url !== undefined && url !== null ? this.urlProblems(url) : []),
      ...(input.eventTypes ? eventTypeProblems(input.eventTypes) : []),
    ];
    if (problems.length) throw invalid('WEBHOOK_ENDPOINT_INVALID', 'Invalid webhook endpoint', problems);
    return this.db.tx(ctx, async (tx) => {
      const row = await this.lockEndpoint(tx.manager, ctx, id);
      const before = auditView(row);
      const changes: Partial<WebhookEndpoint> = {};
      if (url && url !== row.url) changes.url = url;
      if (input.eventTypes && input.eventTypes.join('\n') !== row.eventTypes.join('\n')) changes.eventTypes = input.eventTypes;
      if (input.description !== undefined && input.description !== null) {
        const description = input.description.trim() || null;
        if (description !== row.description) changes.description = description;
      }
      if (Object.keys(changes).length === 0) return row;
      await tx.manager.update(WebhookEndpoint, { id }, { ...changes, updatedAt: () => 'now()' });
      const after = await this.lockEndpoint(tx.manager, ctx, id);
      tx.audit({ entity: 'WebhookEndpoint', entityId: id, action: 'UPDATE', before, after: auditView(after) });
      return after;
    });
  }

  /** Disables or enables an endpoint (idempotent). Deliveries queued meanwhile wait, then go out in order. */
  async setEndpointStatus(ctx: RequestContext, id: string, status: WebhookEndpointStatus): Promise<WebhookEndpoint> {
    return this.db.tx(ctx, async (tx) => {
      const row = await this.lockEndpoint(tx.manager, ctx, id);
      if (row.status === status) return row;
      const before = auditView(row);
      await tx.manager.update(
        WebhookEndpoint,
        { id },
        { status, disabledAt: status === WebhookEndpointStatus.DISABLED ? () => 'now()' : null, updatedAt: () => 'now()' },
      );
      const after = await this.lockEndpoint(tx.manager, ctx, id);
      tx.audit({ entity: 'WebhookEndpoint', entityId: id, action: status === WebhookEndpointStatus.DISABLED ? 'DISABLE' : 'ENABLE', before, after: auditView(after) });
      return after;
    });
  }

  /**
   * A new secret, shown once. The old one keeps signing too (a second `v1=` in the header)
   * for `keepPreviousHours`, so receivers can switch without dropping events.
   */
  async rotateSecret(ctx: RequestContext, id: string, keepPreviousHours: number): Promise<WebhookEndpointWithSecret> {
    if (!isUuid(id)) throw endpointNotFound(id);
    const secret = generateWebhookSecret();
    const sealed = await this.box.seal(secret, secretContext(id), ctx.log);
    return this.db.tx(ctx, async (tx) => {
      const row = await this.lockEndpoint(tx.manager, ctx, id);
      const [{ current }]: { current: Buffer }[] = await tx.manager.query('SELECT secret_ciphertext AS current FROM webhook_endpoint WHERE id = $1', [id]);
      const before = auditView(row);
      await tx.manager.query(
        `UPDATE webhook_endpoint
            SET secret_ciphertext = $2,
                previous_secret_ciphertext = CASE WHEN $3::int > 0 THEN $4::bytea END,
                previous_secret_expires_at = CASE WHEN $3::int > 0 THEN now() + make_interval(hours => $3::int) END,
                secret_rotated_at = now(), updated_at = now()
          WHERE id = $1`,
        [id, sealed, keepPreviousHours, current],
      );
      const endpoint = await this.lockEndpoint(tx.manager, ctx, id);
      tx.audit({ entity: 'WebhookEndpoint', entityId: id, action: 'ROTATE_SECRET', before, after: auditView(endpoint) });
      ctx.log.info({ endpointId: id, keepPreviousHours }, 'webhook secret rotated');
      return { endpoint, secret };
    });
  }

  async listEndpoints(ctx: RequestContext, args: WebhookEndpointListArgs): Promise<Connection<WebhookEndpoint>> {
    const qb = this.db.manager.createQueryBuilder(WebhookEndpoint, 'e');
    if (!args.includeDisabled) qb.andWhere('e.status = :active', { active: WebhookEndpointStatus.ACTIVE });
    const scope = accountScope(ctx);
    if (scope) qb.andWhere('e.accountId = :scope', { scope });
    return paginate(qb, 'e', args);
  }

  async getEndpoint(ctx: RequestContext, id: string): Promise<WebhookEndpoint> {
    if (!isUuid(id)) throw endpointNotFound(id);
    const row = await this.db.manager.findOne(WebhookEndpoint, { where: { id } });
    if (!row || !this.visible(ctx, row)) throw endpointNotFound(id);
    return row;
  }

  // ── deliveries ──

  async listDeliveries(ctx: RequestContext, args: WebhookDeliveryListArgs): Promise<Connection<WebhookDelivery>> {
    const f = args.filter ?? {};
    if (f.accountId) assertAccountVisible(ctx, f.accountId);
    const qb = this.deliveryQuery(this.db.manager);
    if (f.endpointId) qb.andWhere('d.endpointId = :endpointId', { endpointId: f.endpointId });
    if (f.status) qb.andWhere('d.status = :status', { status: f.status });
    if (f.eventType) qb.andWhere('d.eventType = :eventType', { eventType: f.eventType });
    if (f.accountId) qb.andWhere('d.accountId = :accountId', { accountId: f.accountId });
    const scope = accountScope(ctx);
    if (scope) qb.andWhere('e.accountId = :scope', { scope });
    return paginate(qb, 'd', args);
  }

  async getDelivery(ctx: RequestContext, id: string): Promise<WebhookDelivery> {
    if (!isUuid(id)) throw deliveryNotFound(id);
    const row = await this.deliveryQuery(this.db.manager).where('d.id = :id', { id }).getOne();
    if (!row || !this.visible(ctx, row.endpoint)) throw deliveryNotFound(id);
    return row;
  }

  /**
   * Queues a DEAD or DELIVERED delivery again (at the back of its endpoint's queue, attempts
   * from zero); a FAILED one is retried now; a PENDING or DELIVERING one is left as it is.
   */
  async replayDelivery(ctx: RequestContext, id: string): Promise<WebhookDelivery> {
    if (!isUuid(id)) throw deliveryNotFound(id);
    await this.db.tx(ctx, async (tx) => {
      const rows: { id: string; status: WebhookDeliveryStatus; attempts: number; endpoint_id: string; account_id: string | null }[] = await tx.manager.query(
        `SELECT d.id, d.status, d.attempts, d.endpoint_id, e.account_id
           FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id
          WHERE d.id = $1 FOR NO KEY UPDATE OF d`,
        [id],
      );
      const d = rows[0];
      const scope = accountScope(ctx);
      if (!d || (scope && d.account_id !== scope)) throw deliveryNotFound(id);
      if (d.status === WebhookDeliveryStatus.DEAD || d.status === WebhookDeliveryStatus.DELIVERED) {
        await this.requeue(tx.manager, [id]);
      } else if (d.status === WebhookDeliveryStatus.FAILED) {
        await tx.manager.query(`UPDATE webhook_delivery SET next_attempt_at = now(), updated_at = now() WHERE id = $1`, [id]);
      } else {
        return;
      }
      const [after] = await tx.manager.query(`SELECT id, status, attempts, endpoint_id FROM webhook_delivery WHERE id = $1`, [id]);
      tx.audit({ entity: 'WebhookDelivery', entityId: id, action: 'REPLAY', before: deliveryAuditView(d), after: deliveryAuditView(after) });
    });
    return this.getDelivery(ctx, id);
  }

  /** Queues every DEAD delivery of an endpoint again, in their original order. Returns how many. */
  async replayDeadDeliveries(ctx: RequestContext, endpointId: string): Promise<number> {
    return this.db.tx(ctx, async (tx) => {
      await this.lockEndpoint(tx.manager, ctx, endpointId);
      const dead: { id: string }[] = await tx.manager.query(
        `SELECT id FROM webhook_delivery WHERE endpoint_id = $1 AND status = 'DEAD' ORDER BY queue_seq FOR NO KEY UPDATE`,
        [endpointId],
      );
      if (dead.length === 0) return 0;
      const ids = dead.map((d) => d.id);
      await this.requeue(tx.manager, ids);
      tx.audit({
        entity: 'WebhookEndpoint',
        entityId: endpointId,
        action: 'REPLAY_DEAD',
        after: { replayed: ids.length, deliveryIds: ids.slice(0, 1000) },
      });
      return ids.length;
    });
  }

  /** Sends a `webhook.ping` event to one endpoint (whatever it subscribes to): a way to test a receiver. */
  async ping(ctx: RequestContext, endpointId: string): Promise<WebhookDelivery> {
    const deliveryId = await this.db.tx(ctx, async (tx) => {
      const endpoint = await this.lockEndpoint(tx.manager, ctx, endpointId);
      const [event]: { id: string }[] = await tx.manager.query(
        `INSERT INTO webhook_event (type, key, account_id, payload) VALUES ($1, $2, $3, $4::jsonb) RETURNING id`,
        [PING_EVENT_TYPE, `${PING_EVENT_TYPE}:${crypto.randomUUID()}`, endpoint.accountId, JSON.stringify({ endpointId, requestedBy: ctx.principal?.keyId ?? null })],
      );
      const [delivery]: { id: string; status: string; attempts: number; endpoint_id: string }[] = await tx.manager.query(
        `INSERT INTO webhook_delivery (event_id, endpoint_id, account_id, event_type) VALUES ($1, $2, $3, $4)
         RETURNING id, status, attempts, endpoint_id`,
        [event!.id, endpointId, endpoint.accountId, PING_EVENT_TYPE],
      );
      tx.audit({ entity: 'WebhookDelivery', entityId: delivery!.id, action: 'CREATE', after: deliveryAuditView(delivery!) });
      return delivery!.id;
    });
    return this.getDelivery(ctx, deliveryId);
  }

  /** The attempts of many deliveries, oldest first (for the per-request loader). */
  async attemptsOf(deliveryIds: readonly string[]): Promise<WebhookAttempt[][]> {
    const rows = await this.db.manager
      .createQueryBuilder(WebhookAttempt, 'a')
      .where('a.deliveryId IN (:...ids)', { ids: [...deliveryIds] })
      .orderBy('a.id', 'ASC')
      .getMany();
    return deliveryIds.map((id) => rows.filter((r) => r.deliveryId === id));
  }

  // ── the outbox ──

  /**
   * Queues `event` for every active endpoint subscribed to its type (and, for account-scoped
   * endpoints, about their account), in the caller's transaction. Idempotent on `key`: a key
   * seen before queues nothing new. Returns the number of deliveries queued.
   */
  /**
   * The webhooks' subscriber to the facts transactions publish: every raised notification is
   * queued for its endpoints, and the notification records how many deliveries it got.
   */
  readonly onEvents: DomainEventSubscriber = async (manager, events) => {
    const queued: { id: string; n: number }[] = [];
    for (const e of events) {
      if (e.kind !== 'notification.raised') continue;
      const n = await this.enqueue(manager, { type: e.eventType, key: e.key, accountId: e.accountId, payload: e.payload as Record<string, unknown> });
      if (n > 0) queued.push({ id: e.notificationId, n });
    }
    if (queued.length) {
      await manager.query(`UPDATE notification n SET deliveries_queued = q.n FROM unnest($1::uuid[], $2::int[]) AS q(id, n) WHERE n.id = q.id`, [
        queued.map((q) => q.id),
        queued.map((q) => q.n),
      ]);
    }
  };

  async enqueue(manager: EntityManager, event: WebhookEventInput): Promise<number> {
    if (!(event.type in WEBHOOK_EVENT_TYPES) || !EVENT_TYPE.test(event.type)) {
      throw new Error(`Unknown webhook event type "${event.type}": add it to WEBHOOK_EVENT_TYPES (src/webhooks/webhook.rules.ts) first`);
    }
    if (!event.key || event.key.length > 500) throw new Error('A webhook event needs a key of 1 to 500 characters');
    if (event.payload === null || typeof event.payload !== 'object' || Array.isArray(event.payload)) throw new Error('A webhook payload must be a JSON object');
    const json = JSON.stringify(event.payload);
    if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES) throw new Error(`A webhook payload must be at most ${MAX_PAYLOAD_BYTES} bytes of JSON`);
    const accountId = event.accountId ?? null;
    const inserted: { id: string }[] = await manager.query(
      `INSERT INTO webhook_event (type, key, account_id, payload) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (key) DO NOTHING RETURNING id`,
      [event.type, event.key, accountId, json],
    );
    if (inserted.length === 0) return 0;
    const deliveries: { id: string }[] = await manager.query(
      `INSERT INTO webhook_delivery (event_id, endpoint_id, account_id, event_type)
       SELECT $1::uuid, e.id, $2::uuid, $3::text
         FROM webhook_endpoint e
        WHERE e.status = 'ACTIVE'
          AND ($3::text = ANY (e.event_types) OR '*' = ANY (e.event_types))
          AND (e.account_id IS NULL OR e.account_id = $2::uuid)
        ORDER BY e.created_at, e.id
       ON CONFLICT (endpoint_id, event_id) DO NOTHING
       RETURNING id`,
      [inserted[0]!.id, accountId, event.type],
    );
    return deliveries.length;
  }

  /**
   * One run of the delivery job: sends every due delivery, each endpoint's queue in order
   * (up to LANES endpoints at once), until nothing is due, the budget is spent or `signal`
   * aborts. Safe to run concurrently (claims are conditional updates).
   */
  async deliverDue(opts: { log?: Logger; signal?: AbortSignal } = {}): Promise<DeliveryRunSummary> {
    const log = opts.log ?? SILENT;
    const summary: DeliveryRunSummary = { attempted: 0, delivered: 0, failed: 0, dead: 0 };
    const deadline = Date.now() + RUN_BUDGET_MS;
    const stopping = () => Boolean(opts.signal?.aborted) || Date.now() > deadline;
    const running = new Set<Promise<void>>();
    // One attempt per delivery per run: a delivery that just failed waits for a later run,
    // however short its backoff (otherwise a slow run would retry it at once).
    const tried = new Set<string>();
    for (;;) {
      const room = stopping() ? 0 : LANES - running.size;
      const heads = room > 0 ? await this.claim(null, room, tried) : [];
      for (const h of heads) tried.add(h.id);
      for (const head of heads) {
        const lane: Promise<void> = this.lane(head, summary, stopping, log, tried, opts.signal)
          .catch((err) => log.error({ err, endpointId: head.endpoint_id }, 'webhook delivery lane failed'))
          .finally(() => running.delete(lane));
        running.add(lane);
      }
      if (running.size === 0) break;
      await Promise.race(running);
    }
    if (summary.attempted) log.info(summary, 'webhook deliveries sent');
    return summary;
  }

  /** Sends one endpoint's deliveries one after another while they succeed. */
  private async lane(
    first: ClaimedDelivery,
    summary: DeliveryRunSummary,
    stopping: () => boolean,
    log: Logger,
    tried: Set<string>,
    signal?: AbortSignal,
  ): Promise<void> {
    let d: ClaimedDelivery | undefined = first;
    while (d) {
      const outcome = await this.attempt(d, log, signal);
      summary.attempted++;
      if (outcome === WebhookDeliveryStatus.DELIVERED) summary.delivered++;
      else if (outcome === WebhookDeliveryStatus.DEAD) summary.dead++;
      else summary.failed++;
      if (outcome !== WebhookDeliveryStatus.DELIVERED || stopping()) return;
      [d] = await this.claim(d.endpoint_id, 1, tried);
      if (d) tried.add(d.id);
    }
  }

  /**
   * Claims due deliveries: only the head (oldest open delivery, by queue_seq) of each active
   * endpoint is a candidate, so an endpoint's events go out in order and a failing head holds
   * back the ones behind it. The head is locked with SKIP LOCKED (another run has it: skip
   * the endpoint) and moved to DELIVERING with a lease (`locked_until`) in one autocommitted
   * statement; a run that dies mid-send leaves the lease to expire and the head is claimed
   * again. `attempts` counts claims.
   */
  private async claim(endpointId: string | null, limit: number, exclude: ReadonlySet<string>): Promise<ClaimedDelivery[]> {
    const leaseSeconds = (this.config.EHUB_WEBHOOK_TIMEOUT_MS + CLAIM_MARGIN_MS) / 1000;
    return this.db.manager.query(
      `WITH heads AS (
         SELECT h.id
           FROM webhook_endpoint e
           CROSS JOIN LATERAL (
             SELECT o.id FROM webhook_delivery o
              WHERE o.endpoint_id = e.id AND o.status IN ('PENDING','FAILED','DELIVERING')
              ORDER BY o.queue_seq LIMIT 1) h
          WHERE e.status = 'ACTIVE' AND ($1::uuid IS NULL OR e.id = $1::uuid)
       ), due AS (
         SELECT d.id FROM webhook_delivery d
          WHERE d.id IN (SELECT id FROM heads) AND NOT (d.id = ANY($4::uuid[]))
            AND (d.status IN ('PENDING','FAILED') AND d.next_attempt_at <= now()
                 OR d.status = 'DELIVERING' AND d.locked_until <= now())
          ORDER BY d.next_attempt_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_delivery d
            SET status = 'DELIVERING', attempts = d.attempts + 1, last_attempt_at = now(),
                locked_until = now() + make_interval(secs => $3), updated_at = now()
           FROM due WHERE d.id = due.id
         RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.account_id
       )
       SELECT c.id, c.endpoint_id, c.event_id, c.attempts, c.account_id,
              ev.type, ev.payload, ev.created_at AS event_created_at,
              e.url, e.secret_ciphertext, e.previous_secret_ciphertext, e.previous_secret_expires_at
         FROM claimed c
         JOIN webhook_event ev ON ev.id = c.event_id
         JOIN webhook_endpoint e ON e.id = c.endpoint_id`,
      [endpointId, limit, leaseSeconds, [...exclude]],
    );
  }

  /** Signs and sends one claimed delivery, then records the outcome. */
  private async attempt(d: ClaimedDelivery, log: Logger, signal?: AbortSignal): Promise<WebhookDeliveryStatus> {
    const startedAt = new Date();
    let result: SendResult;
    try {
      const secrets = [await this.box.open(d.secret_ciphertext, secretContext(d.endpoint_id), log)];
      if (d.previous_secret_ciphertext && d.previous_secret_expires_at && d.previous_secret_expires_at.getTime() > Date.now()) {
        secrets.push(await this.box.open(d.previous_secret_ciphertext, secretContext(d.endpoint_id), log));
      }
      const body = webhookBody({ id: d.event_id, type: d.type, createdAt: d.event_created_at, accountId: d.account_id, payload: d.payload });
      const timestamp = Math.floor(Date.now() / 1000);
      result = await this.send(
        d.url,
        {
          'content-type': 'application/json',
          'user-agent': `EntitlementHub-Webhooks/${VERSION}`,
          'webhook-id': d.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': standardSignatureHeader(secrets, d.id, timestamp, body),
          // Deprecated (docs/webhooks.md): sent for one more minor version.
          'ehub-webhook-id': d.id,
          'ehub-webhook-timestamp': String(timestamp),
          'ehub-webhook-signature': signatureHeader(secrets, timestamp, body),
          'ehub-webhook-event': d.type,
          'ehub-webhook-attempt': String(d.attempts),
        },
        body,
        signal,
      );
    } catch (err) {
      result = { ok: false, statusCode: null, error: (err as Error).message, snippet: null };
    }
    const durationMs = Date.now() - startedAt.getTime();
    const outcome = result.ok
      ? WebhookDeliveryStatus.DELIVERED
      : d.attempts >= this.config.EHUB_WEBHOOK_MAX_ATTEMPTS
        ? WebhookDeliveryStatus.DEAD
        : WebhookDeliveryStatus.FAILED;
    const error = result.ok ? null : outcome === WebhookDeliveryStatus.DEAD ? `gave up after ${d.attempts} attempts; last: ${result.error}` : result.error;
    const delayMs = outcome === WebhookDeliveryStatus.FAILED ? backoffMs(d.attempts, this.config.EHUB_WEBHOOK_BACKOFF_BASE_MS, this.config.EHUB_WEBHOOK_BACKOFF_MAX_MS) : 0;
    await this.db.tx(systemContext(log, 'job:webhook-delivery'), async (tx) => {
      // Conditional on the claim still being ours: a run whose lease expired records nothing.
      const [updated]: [{ next_attempt_at: Date | null }[], number] = await tx.manager.query(
        `UPDATE webhook_delivery
            SET status = $3, locked_until = NULL,
                next_attempt_at = CASE WHEN $3 = 'FAILED' THEN now() + make_interval(secs => $4::double precision / 1000) ELSE next_attempt_at END,
                last_status_code = $5, last_error = $6, last_response = $7, last_duration_ms = $8,
                delivered_at = CASE WHEN $3 = 'DELIVERED' THEN now() ELSE delivered_at END,
                dead_at = CASE WHEN $3 = 'DEAD' THEN now() ELSE dead_at END,
                updated_at = now()
          WHERE id = $1 AND status = 'DELIVERING' AND attempts = $2
          RETURNING CASE WHEN status = 'FAILED' THEN next_attempt_at END AS next_attempt_at`,
        [d.id, d.attempts, outcome, delayMs, result.statusCode, error, result.snippet, durationMs],
      );
      if (updated.length === 0) return;
      await tx.manager.query(
        `INSERT INTO webhook_attempt (delivery_id, attempt, started_at, finished_at, duration_ms, status_code, error, response_snippet, outcome, next_attempt_at)
         VALUES ($1, $2, $3, now(), $4, $5, $6, $7, $8, $9)`,
        [d.id, d.attempts, startedAt, durationMs, result.statusCode, result.error, result.snippet, outcome, updated[0]!.next_attempt_at],
      );
    });
    if (outcome !== WebhookDeliveryStatus.DELIVERED) {
      log.warn({ deliveryId: d.id, endpointId: d.endpoint_id, attempt: d.attempts, outcome, error: result.error }, 'webhook delivery failed');
    }
    return outcome;
  }

  /** POSTs without following redirects; a 2xx answer within the timeout is a delivery. */
  private async send(url: string, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<SendResult> {
    const timeoutMs = this.config.EHUB_WEBHOOK_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
    try {
      // The guarded agent only connects to addresses the egress policy allows (checked on the
      // address actually connected to); redirects are never followed.
      const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: combined, dispatcher: this.agent });
      const snippet = await readSnippet(res);
      const ok = res.status >= 200 && res.status < 300;
      let error: string | null = null;
      if (!ok) {
        error =
          res.status >= 300 && res.status < 400
            ? `receiver answered HTTP ${res.status} (redirects are not followed: register the final URL)`
            : `receiver answered HTTP ${res.status}`;
      }
      return { ok, statusCode: res.status, error, snippet };
    } catch (err) {
      let error: string;
      if (timeout.aborted) error = `no answer within ${timeoutMs} ms`;
      else if (signal?.aborted) error = 'aborted: the hub is shutting down';
      else {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        error = cause?.message ? `could not reach the receiver: ${cause.message}` : `could not reach the receiver: ${(err as Error).message}`;
      }
      return { ok: false, statusCode: null, error: clip(error, 1000), snippet: null };
    }
  }

  // ── helpers ──

  /** Moves deliveries to the back of their endpoint's queue as PENDING, keeping their relative order. */
  private async requeue(manager: EntityManager, idsInOrder: string[]): Promise<void> {
    const seqs: { v: string }[] = await manager.query(`SELECT nextval('webhook_delivery_queue_seq')::text AS v FROM generate_series(1, $1)`, [idsInOrder.length]);
    const sorted = seqs.map((s) => BigInt(s.v)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await manager.query(
      `UPDATE webhook_delivery d
          SET status = 'PENDING', attempts = 0, queue_seq = v.seq, next_attempt_at = now(), locked_until = NULL,
              delivered_at = NULL, dead_at = NULL, replays = d.replays + 1, updated_at = now()
         FROM unnest($1::uuid[], $2::bigint[]) AS v(id, seq)
        WHERE d.id = v.id`,
      [idsInOrder, sorted.map(String)],
    );
  }

  private deliveryQuery(manager: EntityManager) {
    return manager.createQueryBuilder(WebhookDelivery, 'd').innerJoinAndSelect('d.event', 'ev').innerJoinAndSelect('d.endpoint', 'e');
  }

  private visible(ctx: RequestContext, endpoint: WebhookEndpoint): boolean {
    const scope = accountScope(ctx);
    return !scope || endpoint.accountId === scope;
  }

  /** The endpoint, locked for the rest of the transaction; NOT_FOUND if missing or not visible to the key. */
  private async lockEndpoint(manager: EntityManager, ctx: RequestContext, id: string): Promise<WebhookEndpoint> {
    if (!isUuid(id)) throw endpointNotFound(id);
    const row = await manager.createQueryBuilder(WebhookEndpoint, 'e').setLock('for_no_key_update').where('e.id = :id', { id }).getOne();
    if (!row || !this.visible(ctx, row)) throw endpointNotFound(id);
    return row;
  }
}

/** Reads the start of the answer (RESPONSE_SNIPPET_BYTES) and drops the rest. */
async function readSnippet(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_SNIPPET_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // The answer's status is what counts; a body cut short is only less to show.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = Buffer.concat(chunks).subarray(0, RESPONSE_SNIPPET_BYTES);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return text ? clip(text, RESPONSE_SNIPPET_BYTES) : null;
}
