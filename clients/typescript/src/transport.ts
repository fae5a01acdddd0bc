import { HubError, HubUnreachableError } from './errors';
import type { Jwks } from './verify';

/** The hub's answer to check (and, with source, the client's). */
export interface HubCheck {
  allowed: boolean;
  code: string;
  reason: string;
  entitlementId: string | null;
  expiresAt: string | null;
  model: string | null;
  remaining: string | null;
}
export interface HubConsume {
  allowed: boolean;
  code: string;
  reason: string;
  entitlementId: string | null;
  feature: string;
  quantity: string;
  consumed: string | null;
  remaining: string | null;
  overage: string;
  replayed: boolean;
}
export interface Activation {
  id: string;
  entitlementId: string;
  fingerprint: string;
  active: boolean;
  deactivatedAt: string | null;
}
export interface LeaseState {
  id: string;
  entitlementId: string;
  holder: string;
  ttlSeconds: number;
  expiresAt: string;
  live: boolean;
  checkedInAt: string | null;
}
export interface Seat {
  id: string;
  entitlementId: string;
  email: string;
  active: boolean;
  releasedAt: string | null;
}
export interface IssuedCertificate {
  certificate: string;
  expiresAt: string;
  kid: string;
  jti: string;
}
export interface UsageEvent {
  id: string;
  accountId: string;
  meter: string;
  quantity: number;
  occurredAt: string;
  deployment: string;
  source?: string;
  user?: string;
  device?: string;
  properties?: Record<string, unknown>;
}
export interface UsageResult {
  accepted: number;
  duplicates: number;
  conflicts: number;
  rejected: { index: number; id: string | null; code: string; message: string }[];
}

/**
 * What the client needs from the hub, one method per licensing operation. The client's public
 * API is built on this only, so a transport over the plain-HTTP routes (/v1/check, ...) can
 * replace the GraphQL one without any change for callers. A transport throws HubError for an
 * answer that is an error and HubUnreachableError for a network failure or a 5xx; the client
 * retries the latter.
 */
export interface Transport {
  check(a: { accountId: string; feature: string; quantity?: number; deviceFingerprint?: string; user?: string }): Promise<HubCheck>;
  consume(a: { accountId: string; feature: string; quantity: number; idempotencyKey: string }): Promise<HubConsume>;
  activateDevice(a: { entitlementId: string; fingerprint: string; name?: string; platform?: string }): Promise<Activation>;
  deactivateDevice(a: { entitlementId: string; fingerprint: string }): Promise<Activation>;
  checkoutLease(a: { entitlementId: string; holder: string; ttlSeconds: number }): Promise<LeaseState>;
  heartbeatLease(a: { leaseId: string; ttlSeconds?: number }): Promise<LeaseState>;
  checkinLease(a: { leaseId: string }): Promise<LeaseState>;
  assignSeat(a: { entitlementId: string; email: string }): Promise<Seat>;
  releaseSeat(a: { entitlementId: string; email: string }): Promise<Seat>;
  recordUsage(events: UsageEvent[]): Promise<UsageResult>;
  issueCertificate(a: { accountId: string; deviceFingerprint?: string; ttl?: number }): Promise<IssuedCertificate>;
  fetchJwks(): Promise<Jwks>;
}

const LEASE = 'id entitlementId holder ttlSeconds expiresAt live checkedInAt';
const ACTIVATION = 'id entitlementId fingerprint active deactivatedAt';
const SEAT = 'id entitlementId email active releasedAt';

/** The GraphQL transport: POST {url}/graphql with `Authorization: Bearer <apiKey>`. */
export class GraphQLTransport implements Transport {
  constructor(private readonly opts: { url: string; apiKey: string; fetch: typeof fetch }) {}

  private async send(method: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await this.opts.fetch(`${this.opts.url.replace(/\/$/, '')}${method}`, init);
    } catch (err) {
      throw new HubUnreachableError(`The hub could not be reached: ${(err as Error).message}`);
    }
    if (res.status >= 500) throw new HubUnreachableError(`The hub answered ${res.status}`, res.status);
    return res;
  }

  private async gql<T>(field: string, query: string, variables: Record<string, unknown>): Promise<T> {
    const res = await this.send('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.apiKey}` },
      body: JSON.stringify({ query, variables }),
    });
    let body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string; subCode?: string } }[] };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new HubError(`The hub answered ${res.status} without JSON`, 'BAD_RESPONSE', undefined, res.status);
    }
    const e = body.errors?.[0];
    if (e) throw new HubError(e.message, e.extensions?.code ?? 'INTERNAL_SERVER_ERROR', e.extensions?.subCode, res.status);
    if (!body.data || body.data[field] === undefined) throw new HubError(`The hub answered ${res.status} without ${field}`, 'BAD_RESPONSE', undefined, res.status);
    return body.data[field] as T;
  }

  check(a: Parameters<Transport['check']>[0]) {
    return this.gql<HubCheck>(
      'check',
      `query($accountId: ID!, $feature: String!, $quantity: Float, $deviceFingerprint: String, $user: String) {
        check(accountId: $accountId, feature: $feature, quantity: $quantity, deviceFingerprint: $deviceFingerprint, user: $user) {
          allowed code reason entitlementId expiresAt model remaining } }`,
      a,
    );
  }
  consume(a: Parameters<Transport['consume']>[0]) {
    return this.gql<HubConsume>(
      'consume',
      `mutation($input: ConsumeInput!) { consume(input: $input) {
        allowed code reason entitlementId feature quantity consumed remaining overage replayed } }`,
      { input: a },
    );
  }
  activateDevice(a: Parameters<Transport['activateDevice']>[0]) {
    return this.gql<Activation>(
      'activateDevice',
      `mutation($entitlementId: ID!, $fingerprint: String!, $name: String, $platform: String) {
        activateDevice(entitlementId: $entitlementId, fingerprint: $fingerprint, name: $name, platform: $platform) { ${ACTIVATION} } }`,
      a,
    );
  }
  deactivateDevice(a: Parameters<Transport['deactivateDevice']>[0]) {
    return this.gql<Activation>(
      'deactivateDevice',
      `mutation($entitlementId: ID!, $fingerprint: String!) { deactivateDevice(entitlementId: $entitlementId, fingerprint: $fingerprint) { ${ACTIVATION} } }`,
      a,
    );
  }
  checkoutLease(a: Parameters<Transport['checkoutLease']>[0]) {
    return this.gql<LeaseState>(
      'checkoutLease',
      `mutation($entitlementId: ID!, $holder: String!, $ttlSeconds: Int!) { checkoutLease(entitlementId: $entitlementId, holder: $holder, ttlSeconds: $ttlSeconds) { ${LEASE} } }`,
      a,
    );
  }
  heartbeatLease(a: Parameters<Transport['heartbeatLease']>[0]) {
    return this.gql<LeaseState>('heartbeatLease', `mutation($leaseId: ID!, $ttlSeconds: Int) { heartbeatLease(leaseId: $leaseId, ttlSeconds: $ttlSeconds) { ${LEASE} } }`, a);
  }
  checkinLease(a: Parameters<Transport['checkinLease']>[0]) {
    return this.gql<LeaseState>('checkinLease', `mutation($leaseId: ID!) { checkinLease(leaseId: $leaseId) { ${LEASE} } }`, a);
  }
  assignSeat(a: Parameters<Transport['assignSeat']>[0]) {
    return this.gql<Seat>('assignSeat', `mutation($entitlementId: ID!, $email: String!) { assignSeat(entitlementId: $entitlementId, email: $email) { ${SEAT} } }`, a);
  }
  releaseSeat(a: Parameters<Transport['releaseSeat']>[0]) {
    return this.gql<Seat>('releaseSeat', `mutation($entitlementId: ID!, $email: String!) { releaseSeat(entitlementId: $entitlementId, email: $email) { ${SEAT} } }`, a);
  }
  recordUsage(events: UsageEvent[]) {
    return this.gql<UsageResult>(
      'recordUsage',
      `mutation($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted duplicates conflicts rejected { index id code message } } }`,
      { events },
    );
  }
  issueCertificate(a: Parameters<Transport['issueCertificate']>[0]) {
    return this.gql<IssuedCertificate>(
      'issueCertificate',
      `mutation($accountId: ID, $deviceFingerprint: String, $ttl: Int!) {
        issueCertificate(accountId: $accountId, deviceFingerprint: $deviceFingerprint, ttl: $ttl) { certificate expiresAt kid jti } }`,
      { accountId: a.accountId, deviceFingerprint: a.deviceFingerprint, ttl: a.ttl ?? 2592000 },
    );
  }
  async fetchJwks(): Promise<Jwks> {
    const res = await this.send('/.well-known/jwks.json', { method: 'GET' });
    if (!res.ok) throw new HubError(`GET /.well-known/jwks.json answered ${res.status}`, 'BAD_RESPONSE', undefined, res.status);
    return (await res.json()) as Jwks;
  }
}

/**
 * The plain-HTTP transport (docs/licensing-http.md): POST /v1/check, /v1/consume,
 * /v1/activations, /v1/seats, /v1/leases…; same answers and codes as GraphQL. Usage and
 * certificates (no licensing route of their own here) go through GraphQL.
 */
export class RestTransport implements Transport {
  private readonly graphql: GraphQLTransport;
  constructor(private readonly opts: { url: string; apiKey: string; fetch: typeof fetch }) {
    this.graphql = new GraphQLTransport(opts);
  }

  private async post<T>(path: string, body: Record<string, unknown>): Promise<T> {
    let res: Response;
    try {
      res = await this.opts.fetch(`${this.opts.url.replace(/\/$/, '')}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.apiKey}` },
        body: JSON.stringify(Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined))),
      });
    } catch (err) {
      throw new HubUnreachableError(`The hub could not be reached: ${(err as Error).message}`);
    }
    if (res.status >= 500) throw new HubUnreachableError(`The hub answered ${res.status}`, res.status);
    let answer: { errors?: { message: string; extensions?: { code?: string; subCode?: string } }[] } & Record<string, unknown>;
    try {
      answer = (await res.json()) as typeof answer;
    } catch {
      throw new HubError(`The hub answered ${res.status} without JSON`, 'BAD_RESPONSE', undefined, res.status);
    }
    const e = answer.errors?.[0];
    if (e || !res.ok) throw new HubError(e?.message ?? `The hub answered ${res.status}`, e?.extensions?.code ?? 'BAD_RESPONSE', e?.extensions?.subCode, res.status);
    return answer as T;
  }

  check(a: Parameters<Transport['check']>[0]) {
    return this.post<HubCheck>('/v1/check', a);
  }
  consume(a: Parameters<Transport['consume']>[0]) {
    return this.post<HubConsume>('/v1/consume', a);
  }
  activateDevice(a: Parameters<Transport['activateDevice']>[0]) {
    return this.post<Activation>('/v1/activations', a);
  }
  deactivateDevice(a: Parameters<Transport['deactivateDevice']>[0]) {
    return this.post<Activation>('/v1/activations/deactivate', a);
  }
  checkoutLease(a: Parameters<Transport['checkoutLease']>[0]) {
    return this.post<LeaseState>('/v1/leases', a);
  }
  heartbeatLease(a: Parameters<Transport['heartbeatLease']>[0]) {
    return this.post<LeaseState>(`/v1/leases/${encodeURIComponent(a.leaseId)}/heartbeat`, { ttlSeconds: a.ttlSeconds });
  }
  checkinLease(a: Parameters<Transport['checkinLease']>[0]) {
    return this.post<LeaseState>(`/v1/leases/${encodeURIComponent(a.leaseId)}/checkin`, {});
  }
  assignSeat(a: Parameters<Transport['assignSeat']>[0]) {
    return this.post<Seat>('/v1/seats', a);
  }
  releaseSeat(a: Parameters<Transport['releaseSeat']>[0]) {
    return this.post<Seat>('/v1/seats/release', a);
  }
  recordUsage(events: UsageEvent[]) {
    return this.graphql.recordUsage(events);
  }
  issueCertificate(a: Parameters<Transport['issueCertificate']>[0]) {
    return this.graphql.issueCertificate(a);
  }
  fetchJwks() {
    return this.graphql.fetchJwks();
  }
}
