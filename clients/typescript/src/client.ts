import { EntitlementError, HubError, HubUnreachableError, isRetryable } from './errors';
import { MemoryStore, type OfflineStore } from './store';
import { GraphQLTransport, RestTransport, type Activation, type HubCheck, type HubConsume, type LeaseState, type Seat, type Transport, type UsageEvent, type UsageResult } from './transport';
import { entitlementStateAt, verifyCertificate, type CertificatePayload, type Jwks } from './verify';

export interface OfflineOptions {
  /** 'fail-closed' (default): an unreachable hub means not allowed. 'grace': answer from the verified certificate for up to graceSeconds since the last contact. */
  policy?: 'fail-closed' | 'grace';
  /** With policy 'grace': how long after the last successful contact the certificate may answer (default 86400). */
  graceSeconds?: number;
  /** Where the certificate, the JWKS and the last contact time are kept (default: in memory). */
  store?: OfflineStore;
}

export interface ClientOptions {
  /** The hub's base URL, e.g. https://hub.example.com */
  url: string;
  /** An API key (INTEGRATION role, scoped to the account, is enough). */
  apiKey: string;
  /** The account whose rights are checked. */
  accountId: string;
  /** A fetch implementation (default: globalThis.fetch). */
  fetch?: typeof fetch;
  offline?: OfflineOptions;
  /** Retries on network errors and 5xx (default 3), with exponential backoff from retryDelayMs (default 200). */
  retries?: number;
  retryDelayMs?: number;
  /** Usage batching: send when this many events wait (default 100, at most 1000) or after flushIntervalMs (default 5000). */
  usageBatchSize?: number;
  usageFlushIntervalMs?: number;
  /** 'graphql' (default), 'rest' (the plain-HTTP licensing routes, /v1/check…), or any Transport. */
  transport?: 'graphql' | 'rest' | Transport;
  /** The clock (milliseconds since the epoch); for tests. */
  now?: () => number;
}

/** Where an answer came from: the hub, the stored certificate, or neither (refused by the offline policy). */
export type AnswerSource = 'hub' | 'certificate' | 'none';

/**
 * Codes of the hub's CheckCode, plus the client's offline codes: HUB_UNREACHABLE (fail closed),
 * OFFLINE_GRACE_EXPIRED, NO_CERTIFICATE, CERTIFICATE_INVALID, DEVICE_MISMATCH.
 */
export interface CheckAnswer extends HubCheck {
  source: AnswerSource;
}

export interface CheckOptions {
  quantity?: number;
  deviceFingerprint?: string;
  user?: string;
}

const KEY_CERT = 'certificate';
const KEY_JWKS = 'jwks';
const KEY_CONTACT = 'lastContact';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const newId = (): string => globalThis.crypto.randomUUID();

export class EntitlementClient {
  readonly accountId: string;
  private readonly transport: Transport;
  private readonly store: OfflineStore;
  private readonly policy: 'fail-closed' | 'grace';
  private readonly graceSeconds: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly now: () => number;
  private queue: UsageEvent[] = [];
  private flushing: Promise<void> | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly leases = new Set<Lease>();
  private closed = false;

  constructor(opts: ClientOptions) {
    if (!opts.url || !opts.apiKey || !opts.accountId) throw new EntitlementError('url, apiKey and accountId are required', 'BAD_OPTIONS');
    this.accountId = opts.accountId;
    const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
    const conn = { url: opts.url, apiKey: opts.apiKey, fetch: f };
    this.transport =
      opts.transport === undefined || opts.transport === 'graphql' ? new GraphQLTransport(conn) : opts.transport === 'rest' ? new RestTransport(conn) : opts.transport;
    this.store = opts.offline?.store ?? new MemoryStore();
    this.policy = opts.offline?.policy ?? 'fail-closed';
    this.graceSeconds = opts.offline?.graceSeconds ?? 86400;
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 200;
    this.batchSize = Math.min(opts.usageBatchSize ?? 100, 1000);
    this.flushIntervalMs = opts.usageFlushIntervalMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** Runs a transport call, retrying network errors and 5xx with exponential backoff; records the contact. */
  private async call<T>(fn: (t: Transport) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await fn(this.transport);
        await this.store.set(KEY_CONTACT, String(this.now()));
        return result;
      } catch (err) {
        if (err instanceof HubError) await this.store.set(KEY_CONTACT, String(this.now()));
        if (!isRetryable(err) || attempt >= this.retries) throw err;
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  /** May the account use the feature now? From the hub, or when it cannot be reached, by the offline policy. */
  async check(feature: string, opts: CheckOptions = {}): Promise<CheckAnswer> {
    try {
      const answer = await this.call((t) => t.check({ accountId: this.accountId, feature, ...opts }));
      return { ...answer, source: 'hub' };
    } catch (err) {
      if (!(err instanceof HubUnreachableError)) throw err;
      return this.offlineCheck(feature, opts, err);
    }
  }

  private refuse(code: string, reason: string, source: AnswerSource = 'none'): CheckAnswer {
    return { allowed: false, code, reason, entitlementId: null, expiresAt: null, model: null, remaining: null, source };
  }

  private async offlineCheck(feature: string, opts: CheckOptions, cause: Error): Promise<CheckAnswer> {
    if (this.policy !== 'grace') return this.refuse('HUB_UNREACHABLE', `The hub cannot be reached (${cause.message}) and the offline policy is fail-closed`);
    const contact = Number((await this.store.get(KEY_CONTACT)) ?? NaN);
    if (!Number.isFinite(contact) || this.now() - contact > this.graceSeconds * 1000) {
      return this.refuse('OFFLINE_GRACE_EXPIRED', `The hub cannot be reached and the last contact is more than ${this.graceSeconds} s ago (or unknown)`);
    }
    const certificate = await this.store.get(KEY_CERT);
    const jwksText = await this.store.get(KEY_JWKS);
    if (!certificate || !jwksText) return this.refuse('NO_CERTIFICATE', 'The hub cannot be reached and no certificate is stored (call refreshCertificate while online)');
    const now = new Date(this.now());
    const verified = await verifyCertificate(certificate, JSON.parse(jwksText) as Jwks, now);
    if (!verified.valid) return this.refuse('CERTIFICATE_INVALID', `The stored certificate does not verify: ${verified.reason} (${verified.message})`);
    return answerFromCertificate(verified.payload, feature, opts, now);
  }

  /** Asks the hub for a certificate (and the JWKS) and stores both for offline checks. */
  async refreshCertificate(opts: { deviceFingerprint?: string; ttlSeconds?: number } = {}): Promise<{ expiresAt: string; jti: string }> {
    const issued = await this.call((t) => t.issueCertificate({ accountId: this.accountId, deviceFingerprint: opts.deviceFingerprint, ttl: opts.ttlSeconds }));
    const jwks = await this.call((t) => t.fetchJwks());
    const verified = await verifyCertificate(issued.certificate, jwks, new Date(this.now()));
    if (!verified.valid) throw new EntitlementError(`The hub's certificate does not verify: ${verified.message}`, 'CERTIFICATE_INVALID');
    await this.store.set(KEY_JWKS, JSON.stringify(jwks));
    await this.store.set(KEY_CERT, issued.certificate);
    return { expiresAt: issued.expiresAt, jti: issued.jti };
  }

  /** Draws quantity down; the idempotency key (generated when not given) is the same on every retry. */
  consume(feature: string, quantity: number, opts: { idempotencyKey?: string } = {}): Promise<HubConsume> {
    const idempotencyKey = opts.idempotencyKey ?? newId();
    return this.call((t) => t.consume({ accountId: this.accountId, feature, quantity, idempotencyKey }));
  }

  activate(entitlementId: string, fingerprint: string, opts: { name?: string; platform?: string } = {}): Promise<Activation> {
    return this.call((t) => t.activateDevice({ entitlementId, fingerprint, ...opts }));
  }

  deactivate(entitlementId: string, fingerprint: string): Promise<Activation> {
    return this.call((t) => t.deactivateDevice({ entitlementId, fingerprint }));
  }

  assignSeat(entitlementId: string, email: string): Promise<Seat> {
    return this.call((t) => t.assignSeat({ entitlementId, email }));
  }

  releaseSeat(entitlementId: string, email: string): Promise<Seat> {
    return this.call((t) => t.releaseSeat({ entitlementId, email }));
  }

  /**
   * Checks out a floating licence; the lease heartbeats by itself every heartbeatFraction (default 1/3)
   * of its TTL until checkin() or close().
   */
  async checkoutLease(entitlementId: string, holder: string, opts: { ttlSeconds?: number; heartbeatIntervalMs?: number } = {}): Promise<Lease> {
    const ttlSeconds = opts.ttlSeconds ?? 300;
    const state = await this.call((t) => t.checkoutLease({ entitlementId, holder, ttlSeconds }));
    const lease = new Lease(state, {
      heartbeat: () => this.call((t) => t.heartbeatLease({ leaseId: state.id })),
      checkin: () => this.call((t) => t.checkinLease({ leaseId: state.id })),
      now: this.now,
      intervalMs: opts.heartbeatIntervalMs ?? Math.max(1000, (state.ttlSeconds * 1000) / 3),
      forget: (l) => this.leases.delete(l),
    });
    this.leases.add(lease);
    return lease;
  }

  /** Queues a usage event (an id is generated when not given); sent in batches, exactly once. */
  reportUsage(event: { meter: string; quantity: number; occurredAt?: Date | string; deployment?: string; id?: string; source?: string; user?: string; device?: string; properties?: Record<string, unknown> }): string {
    if (this.closed) throw new EntitlementError('The client is closed', 'CLIENT_CLOSED');
    const { occurredAt, deployment, id, ...rest } = event;
    const e: UsageEvent = {
      ...rest,
      id: id ?? newId(),
      accountId: this.accountId,
      deployment: deployment ?? 'CLOUD',
      occurredAt: occurredAt === undefined ? new Date(this.now()).toISOString() : new Date(occurredAt).toISOString(),
    };
    this.queue.push(e);
    if (this.queue.length >= this.batchSize) void this.flush().catch(() => undefined);
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        void this.flush().catch(() => undefined);
      }, this.flushIntervalMs);
    }
    return e.id;
  }

  /** Events waiting to be sent. */
  get pendingUsage(): number {
    return this.queue.length;
  }

  /**
   * Sends every queued event. A batch that fails stays at the head of the queue with the same ids,
   * so sending it again is counted once by the hub. Throws the last error if a batch could not be sent.
   */
  async flush(): Promise<UsageResult> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    const total: UsageResult = { accepted: 0, duplicates: 0, conflicts: 0, rejected: [] };
    const run = (async () => {
      while (this.queue.length > 0) {
        const batch = this.queue.slice(0, this.batchSize);
        const r = await this.call((t) => t.recordUsage(batch));
        this.queue.splice(0, batch.length);
        total.accepted += r.accepted;
        total.duplicates += r.duplicates;
        total.conflicts += r.conflicts;
        total.rejected.push(...r.rejected);
      }
    })();
    this.flushing = run;
    try {
      await run;
    } finally {
      this.flushing = null;
    }
    return total;
  }

  /** Flushes usage, checks in live leases and stops every timer. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    try {
      await this.flush();
    } finally {
      for (const lease of [...this.leases]) await lease.checkin().catch(() => lease.stop());
    }
  }
}

/** The offline answer from a verified certificate (no balances: only dates, device binding and feature limits). */
export function answerFromCertificate(payload: CertificatePayload, feature: string, opts: CheckOptions, now: Date): CheckAnswer {
  const base = { entitlementId: null, expiresAt: null, model: null, remaining: null, source: 'certificate' as const };
  if (payload.device && opts.deviceFingerprint && payload.device !== opts.deviceFingerprint) {
    return { ...base, allowed: false, code: 'DEVICE_MISMATCH', reason: `The stored certificate is bound to another device` };
  }
  const granting = payload.entitlements.filter((e) => e.features.some((f) => f.key === feature));
  if (granting.length === 0) return { ...base, allowed: false, code: 'NOT_ENTITLED', reason: `The certificate grants no entitlement with feature ${feature}` };
  let best: CheckAnswer | null = null;
  for (const e of granting) {
    const state = entitlementStateAt(e, now);
    const limit = e.features.find((f) => f.key === feature)?.limit ?? null;
    const expiresAt = e.endsAt === null ? null : (e.graceEndsAt ?? e.endsAt);
    const common = { ...base, entitlementId: e.id, model: e.model, expiresAt, remaining: limit };
    let answer: CheckAnswer;
    if (state === 'NOT_STARTED' || state === 'EXPIRED') answer = { ...common, allowed: false, code: state, reason: `Entitlement ${e.sku} is ${state.toLowerCase().replace('_', ' ')} (certificate)` };
    else if (limit !== null && opts.quantity !== undefined && opts.quantity > Number(limit)) {
      answer = { ...common, allowed: false, code: 'LIMIT_EXCEEDED', reason: `The quantity ${opts.quantity} is above the limit ${limit} (certificate)` };
    } else answer = { ...common, allowed: true, code: state === 'ACTIVE' ? 'VALID' : 'IN_GRACE', reason: `Allowed by entitlement ${e.sku} (certificate, offline)` };
    if (!best || (answer.allowed && !best.allowed)) best = answer;
  }
  return best as CheckAnswer;
}

export type LeaseEvent = 'heartbeat' | 'heartbeatFailed' | 'lost';
type Listener = (arg: { lease: LeaseState; error?: Error; reason?: 'EXPIRED' | 'LEASE_EXPIRED' }) => void;

/**
 * A checked-out floating licence. Heartbeats run on a timer; 'heartbeatFailed' is emitted for each
 * failed heartbeat (the lease is still held until its expiresAt), 'lost' once: when the hub says
 * LEASE_EXPIRED, or when a heartbeat fails after the lease's expiresAt (then the slot is gone).
 */
export class Lease {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly listeners = new Map<LeaseEvent, Set<Listener>>();
  private lostReason: 'EXPIRED' | 'LEASE_EXPIRED' | null = null;
  private checkedIn = false;

  constructor(
    public state: LeaseState,
    private readonly ops: {
      heartbeat: () => Promise<LeaseState>;
      checkin: () => Promise<LeaseState>;
      now: () => number;
      intervalMs: number;
      forget: (l: Lease) => void;
    },
  ) {
    this.timer = setInterval(() => void this.heartbeat().catch(() => undefined), ops.intervalMs);
    const t = this.timer as { unref?: () => void };
    t.unref?.();
  }

  get id(): string {
    return this.state.id;
  }

  /** Whether the lease holds a slot (by the client's knowledge): not checked in, not lost, not past expiresAt. */
  get live(): boolean {
    return !this.checkedIn && this.lostReason === null && this.ops.now() < Date.parse(this.state.expiresAt);
  }

  on(event: LeaseEvent, fn: Listener): this {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(fn);
    return this;
  }

  private emit(event: LeaseEvent, arg: Omit<Parameters<Listener>[0], 'lease'>): void {
    for (const fn of this.listeners.get(event) ?? []) fn({ lease: this.state, ...arg });
  }

  /** Sends one heartbeat now (the timer calls this). */
  async heartbeat(): Promise<LeaseState> {
    if (this.checkedIn || this.lostReason) throw new EntitlementError('The lease is not held', 'LEASE_NOT_HELD');
    try {
      this.state = await this.ops.heartbeat();
      this.emit('heartbeat', {});
      return this.state;
    } catch (err) {
      const error = err as Error;
      this.emit('heartbeatFailed', { error });
      if (err instanceof HubError && err.subCode === 'LEASE_EXPIRED') this.lose('LEASE_EXPIRED', error);
      else if (this.ops.now() >= Date.parse(this.state.expiresAt)) this.lose('EXPIRED', error);
      throw err;
    }
  }

  private lose(reason: 'EXPIRED' | 'LEASE_EXPIRED', error: Error): void {
    this.lostReason = reason;
    this.stop();
    this.emit('lost', { reason, error });
  }

  /** Stops heartbeats without checking in (the lease lapses at expiresAt). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.ops.forget(this);
  }

  /** Returns the licence to the pool and stops heartbeats (idempotent on the hub). */
  async checkin(): Promise<LeaseState> {
    this.stop();
    this.state = await this.ops.checkin();
    this.checkedIn = true;
    return this.state;
  }
}
