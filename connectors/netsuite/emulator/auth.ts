/**
 * The emulator's two authentication modes, verified for real:
 * - OAuth 2.0 client credentials (M2M): a JWT assertion verified with `jose` against the
 *   public key of the certificate named by `kid` (PS256 or ES256 only), `iss` = client id,
 *   `aud` = the token endpoint URL, `exp` − `iat` ≤ 3600, not expired, scope `rest_webservices`.
 * - Token-based authentication (OAuth 1.0a, HMAC-SHA256): the signature recomputed from the
 *   base string; a reused nonce or a timestamp outside ±5 minutes is refused.
 */
import { createHmac, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';

export interface M2MClient {
  clientId: string;
  /** The certificate id NetSuite shows after the upload: the JWT header's `kid`. */
  certificateId: string;
  /** The certificate's public key, PEM (SPKI or X.509 certificate). */
  publicKeyPem: string;
}

export interface TbaIntegration {
  consumerKey: string;
  consumerSecret: string;
  tokenId: string;
  tokenSecret: string;
}

export class AuthFailure extends Error {}

export const TOKEN_PATH = '/services/rest/auth/oauth2/v1/token';
export const TOKEN_LIFETIME_S = 3600;

interface Issued {
  clientId: string;
  expiresAtMs: number;
}

export class Authenticator {
  private readonly tokens = new Map<string, Issued>();
  private readonly keys = new Map<string, { client: M2MClient; key: KeyObject }>();
  private readonly nonces = new Map<string, number>();

  constructor(
    readonly accountId: string,
    readonly m2mClients: M2MClient[],
    readonly tbaIntegrations: TbaIntegration[],
    private readonly now: () => number,
  ) {
    for (const c of m2mClients) this.keys.set(c.certificateId, { client: c, key: createPublicKey(c.publicKeyPem) });
  }

  addM2MClient(c: M2MClient): void {
    this.m2mClients.push(c);
    this.keys.set(c.certificateId, { client: c, key: createPublicKey(c.publicKeyPem) });
  }

  /** Verifies a client-credentials token request; returns the access token or throws AuthFailure. */
  async issueToken(form: URLSearchParams, tokenUrl: string): Promise<{ access_token: string; expires_in: string; token_type: string }> {
    if (form.get('grant_type') !== 'client_credentials') throw new AuthFailure('unsupported grant_type');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') throw new AuthFailure('bad client_assertion_type');
    const jwt = form.get('client_assertion');
    if (!jwt) throw new AuthFailure('client_assertion missing');
    let header;
    try {
      header = decodeProtectedHeader(jwt);
    } catch {
      throw new AuthFailure('client_assertion is not a JWT');
    }
    if (header.alg !== 'PS256' && header.alg !== 'ES256') throw new AuthFailure(`alg ${String(header.alg)} not allowed (PS256 or ES256)`);
    const reg = header.kid ? this.keys.get(header.kid) : undefined;
    if (!reg) throw new AuthFailure(`unknown certificate id (kid) ${String(header.kid)}`);
    let payload;
    try {
      ({ payload } = await jwtVerify(jwt, reg.key, {
        algorithms: ['PS256', 'ES256'],
        issuer: reg.client.clientId,
        audience: tokenUrl,
        currentDate: new Date(this.now()),
        requiredClaims: ['iat', 'exp', 'iss', 'aud'],
        clockTolerance: 0,
      }));
    } catch (err) {
      throw new AuthFailure(`assertion refused: ${(err as Error).message}`);
    }
    if ((payload.exp as number) - (payload.iat as number) > 3600) throw new AuthFailure('exp - iat exceeds 3600 seconds');
    const scope = payload.scope;
    const scopes = Array.isArray(scope) ? scope.map(String) : typeof scope === 'string' ? scope.split(/[ ,]+/) : [];
    if (!scopes.includes('rest_webservices')) throw new AuthFailure('scope rest_webservices missing');
    const token = `ns-emu.${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { clientId: reg.client.clientId, expiresAtMs: this.now() + TOKEN_LIFETIME_S * 1000 });
    return { access_token: token, expires_in: String(TOKEN_LIFETIME_S), token_type: 'bearer' };
  }

  /** Every issued token expires now. */
  expireAll(): void {
    const now = this.now();
    for (const t of this.tokens.values()) t.expiresAtMs = Math.min(t.expiresAtMs, now);
  }

  checkBearer(token: string): void {
    const t = this.tokens.get(token);
    if (!t) throw new AuthFailure('unknown access token');
    if (t.expiresAtMs <= this.now()) throw new AuthFailure('access token expired');
  }

  /** Verifies an `Authorization: OAuth …` header against the request's method and URL. */
  checkTba(header: string, method: string, url: URL): void {
    const params = parseOAuthHeader(header);
    if (params.realm !== this.accountId) throw new AuthFailure(`realm ${params.realm} is not the account id`);
    if (params.oauth_signature_method !== 'HMAC-SHA256') throw new AuthFailure('oauth_signature_method must be HMAC-SHA256');
    if (params.oauth_version !== undefined && params.oauth_version !== '1.0') throw new AuthFailure('oauth_version must be 1.0');
    const integ = this.tbaIntegrations.find((i) => i.consumerKey === params.oauth_consumer_key && i.tokenId === params.oauth_token);
    if (!integ) throw new AuthFailure('unknown consumer key or token');
    const ts = Number(params.oauth_timestamp);
    if (!Number.isInteger(ts) || Math.abs(ts * 1000 - this.now()) > 300_000) throw new AuthFailure('oauth_timestamp out of window');
    const nonce = params.oauth_nonce;
    if (!nonce) throw new AuthFailure('oauth_nonce missing');
    const nonceKey = `${integ.tokenId}:${nonce}`;
    if (this.nonces.has(nonceKey)) throw new AuthFailure('oauth_nonce reused');
    const all: [string, string][] = [];
    for (const [k, v] of Object.entries(params)) if (k !== 'realm' && k !== 'oauth_signature') all.push([k, v]);
    for (const [k, v] of url.searchParams) all.push([k, v]);
    const enc = rfc3986;
    const norm = all
      .map(([k, v]) => [enc(k), enc(v)] as const)
      .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const baseUrl = `${url.protocol}//${url.host}${url.pathname}`.toLowerCase().replace(/^(https?:\/\/[^/]+)/i, (m) => m.toLowerCase());
    const base = [method.toUpperCase(), enc(`${url.protocol}//${url.host.toLowerCase()}${url.pathname}`), enc(norm)].join('&');
    void baseUrl;
    const key = `${enc(integ.consumerSecret)}&${enc(integ.tokenSecret)}`;
    const expected = createHmac('sha256', key).update(base).digest();
    const given = Buffer.from(params.oauth_signature ?? '', 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new AuthFailure('signature mismatch');
    this.nonces.set(nonceKey, ts);
    if (this.nonces.size > 100_000) {
      const cutoff = this.now() / 1000 - 600;
      for (const [k, t] of this.nonces) if (t < cutoff) this.nonces.delete(k);
    }
  }
}

export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `OAuth realm="X", oauth_consumer_key="…", …` → decoded key/value pairs. */
export function parseOAuthHeader(header: string): Record<string, string> {
  if (!/^OAuth\s/i.test(header)) throw new AuthFailure('not an OAuth header');
  const out: Record<string, string> = {};
  const body = header.replace(/^OAuth\s+/i, '');
  let i = 0;
  while (i < body.length) {
    while (body[i] === ' ' || body[i] === ',') i++;
    const eq = body.indexOf('=', i);
    if (eq < 0) break;
    const k = body.slice(i, eq).trim();
    let v: string;
    if (body[eq + 1] === '"') {
      const end = body.indexOf('"', eq + 2);
      if (end < 0) throw new AuthFailure('malformed OAuth header');
      v = body.slice(eq + 2, end);
      i = end + 1;
    } else {
      const end = body.indexOf(',', eq + 1);
      v = body.slice(eq + 1, end < 0 ? body.length : end).trim();
      i = end < 0 ? body.length : end;
    }
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      throw new AuthFailure('malformed OAuth header');
    }
  }
  return out;
}
