import { createHmac, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { EmulatorClient, EmulatorUser } from './types';

/**
 * The OAuth 2.0 token endpoint (client credentials, username-password and JWT bearer flows)
 * and bearer-token sessions. Errors follow Salesforce's token endpoint: HTTP 400 with
 * `{ error, error_description }`.
 */

export interface Session {
  token: string;
  userId: string;
  username: string;
  clientId: string;
  generation: number;
}

interface UserEntry {
  id: string;
  username: string;
  password: string;
}

export interface TokenResult {
  status: number;
  body: Record<string, string>;
}

const JWT_AUDIENCES = ['https://login.salesforce.com', 'https://test.salesforce.com'];

function b64urlJson(part: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function fail(error: string, description: string): TokenResult {
  return { status: 400, body: { error, error_description: description } };
}

export class Auth {
  private readonly sessions = new Map<string, Session>();
  private generation = 0;
  private readonly users = new Map<string, UserEntry>();
  private readonly keys = new Map<string, KeyObject>();
  readonly defaultUserId: string;

  constructor(
    readonly orgId: string,
    private readonly clients: EmulatorClient[],
    users: EmulatorUser[],
    newUserId: () => string,
    private readonly url: () => string,
  ) {
    for (const u of users) this.users.set(u.username.toLowerCase(), { id: newUserId(), username: u.username, password: u.password });
    for (const c of clients) {
      if (c.username && !this.users.has(c.username.toLowerCase())) {
        this.users.set(c.username.toLowerCase(), { id: newUserId(), username: c.username, password: randomBytes(12).toString('hex') });
      }
      if (c.jwtPublicKeyPem) this.keys.set(c.clientId, createPublicKey(c.jwtPublicKeyPem));
    }
    const first = this.users.values().next().value;
    if (!first) throw new Error('the emulator needs at least one user');
    this.defaultUserId = first.id;
  }

  userIds(): string[] {
    return [...this.users.values()].map((u) => u.id);
  }

  userById(id: string): UserEntry | undefined {
    return [...this.users.values()].find((u) => u.id === id);
  }

  /** POST /services/oauth2/token */
  token(params: URLSearchParams): TokenResult {
    const grant = params.get('grant_type');
    switch (grant) {
      case 'client_credentials': {
        const client = this.authenticateClient(params);
        if ('status' in client) return client;
        const username = client.username ?? this.users.values().next().value?.username ?? '';
        const user = this.users.get(username.toLowerCase());
        if (!user) return fail('invalid_grant', 'no client credentials user enabled');
        return this.issue(client, user);
      }
      case 'password': {
        const client = this.authenticateClient(params);
        if ('status' in client) return client;
        const user = this.users.get((params.get('username') ?? '').toLowerCase());
        if (!user || user.password !== params.get('password')) return fail('invalid_grant', 'authentication failure');
        return this.issue(client, user);
      }
      case 'urn:ietf:params:oauth:grant-type:jwt-bearer':
        return this.jwtBearer(params.get('assertion') ?? '');
      case null:
        return fail('unsupported_grant_type', 'grant type not supported');
      default:
        return fail('unsupported_grant_type', 'grant type not supported');
    }
  }

  private authenticateClient(params: URLSearchParams): EmulatorClient | TokenResult {
    const client = this.clients.find((c) => c.clientId === params.get('client_id'));
    if (!client) return fail('invalid_client_id', 'client identifier invalid');
    if (client.clientSecret !== params.get('client_secret')) return fail('invalid_client', 'invalid client credentials');
    return client;
  }

  private jwtBearer(assertion: string): TokenResult {
    const parts = assertion.split('.');
    if (parts.length !== 3) return fail('invalid_grant', 'invalid assertion');
    const header = b64urlJson(parts[0]);
    const claims = b64urlJson(parts[1]);
    if (!header || !claims || header.alg !== 'RS256') return fail('invalid_grant', 'invalid assertion');
    const client = this.clients.find((c) => c.clientId === claims.iss);
    if (!client) return fail('invalid_client_id', 'client identifier invalid');
    const key = this.keys.get(client.clientId);
    if (!key) return fail('invalid_grant', 'invalid assertion');
    const ok = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], 'base64url'));
    if (!ok) return fail('invalid_grant', 'invalid assertion');
    const aud = typeof claims.aud === 'string' ? claims.aud.replace(/\/$/, '') : '';
    if (![...JWT_AUDIENCES, this.url()].includes(aud)) return fail('invalid_grant', 'audience is invalid');
    // exp is checked against real time: clients compute it from their own clock.
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) return fail('invalid_grant', 'expired authorization code');
    const user = this.users.get(String(claims.sub ?? '').toLowerCase());
    if (!user) return fail('invalid_grant', "user hasn't approved this consumer");
    return this.issue(client, user);
  }

  private issue(client: EmulatorClient, user: UserEntry): TokenResult {
    const token = `${this.orgId.slice(0, 15)}!AR${randomBytes(48).toString('base64url')}`;
    this.sessions.set(token, { token, userId: user.id, username: user.username, clientId: client.clientId, generation: this.generation });
    const issuedAt = String(Date.now());
    const id = `${this.url()}/id/${this.orgId}/${user.id}`;
    return {
      status: 200,
      body: {
        access_token: token,
        signature: createHmac('sha256', client.clientSecret).update(id + issuedAt).digest('base64'),
        scope: 'api',
        instance_url: this.url(),
        id,
        token_type: 'Bearer',
        issued_at: issuedAt,
      },
    };
  }

  /** The session of an `Authorization: Bearer` header value, or null when unknown or expired. */
  session(authorization: string | undefined): Session | null {
    const m = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(authorization ?? '');
    if (!m) return null;
    const s = this.sessions.get(m[1].trim());
    return s && s.generation === this.generation ? s : null;
  }

  /** Every token issued so far stops working. */
  expireAll(): void {
    this.generation++;
    this.sessions.clear();
  }

  revoke(token: string): void {
    this.sessions.delete(token);
  }
}
