/**
 * Offline certificate check with WebCrypto (Ed25519), for Node ≥ 20 and browsers: the same
 * rules as the hub's src/certificates/certificate.verify.ts (compact JWS, `alg: EdDSA`,
 * `typ: ehub-cert+jwt`, the key named by `kid` in the JWKS, then the expiry).
 */
export interface Jwk {
  kty: string;
  crv?: string;
  x?: string;
  kid?: string;
  use?: string;
  alg?: string;
}
export interface Jwks {
  keys: Jwk[];
}
export interface CertificateFeature {
  key: string;
  limit: string | null;
}
export interface CertificateEntitlement {
  id: string;
  sku: string;
  model: string;
  status: string;
  startsAt: string;
  endsAt: string | null;
  graceEndsAt: string | null;
  quantity: number;
  overagePolicy: string | null;
  resetPeriod: string | null;
  features: CertificateFeature[];
}
export interface CertificatePayload {
  iss: 'ehub';
  sub: string;
  account: { id: string; name: string };
  device: string | null;
  entitlements: CertificateEntitlement[];
  iat: number;
  exp: number;
  jti: string;
}
export type VerificationFailure = 'MALFORMED' | 'UNSUPPORTED_ALGORITHM' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'EXPIRED';
export type VerificationResult =
  | { valid: true; payload: CertificatePayload; expiresAt: Date }
  | { valid: false; reason: VerificationFailure; message: string };

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function toBase64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes a canonical base64url segment (a non-canonical one is refused, as on the hub). */
function decodeSegment(segment: string): Uint8Array<ArrayBuffer> | null {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) return null;
  let bin: string;
  try {
    bin = atob(segment.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (segment.length % 4)) % 4));
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return toBase64url(bytes) === segment ? bytes : null;
}

function decodeJson(segment: string): Record<string, unknown> | null {
  const bytes = decodeSegment(segment);
  if (!bytes) return null;
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const fail = (reason: VerificationFailure, message: string): VerificationResult => ({ valid: false, reason, message });

/** Verifies a certificate with nothing but the JWKS. Never throws for a bad certificate. */
export async function verifyCertificate(certificate: string, jwks: Jwks, now: Date = new Date()): Promise<VerificationResult> {
  const parts = certificate.trim().split('.');
  if (parts.length !== 3) return fail('MALFORMED', 'Not a compact certificate');
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  if (!header) return fail('MALFORMED', 'The certificate header is not base64url JSON');
  if (header.alg !== 'EdDSA') return fail('UNSUPPORTED_ALGORITHM', 'Only EdDSA (Ed25519) is accepted');
  if (header.typ !== 'ehub-cert+jwt') return fail('MALFORMED', 'Not an Entitlement Hub certificate');
  if (typeof header.kid !== 'string' || !header.kid) return fail('MALFORMED', 'The certificate header names no key');
  const jwk = (Array.isArray(jwks?.keys) ? jwks.keys : []).find((k) => k && k.kid === header.kid);
  if (!jwk) return fail('UNKNOWN_KEY', `Key ${header.kid} is not in the JWKS`);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || (jwk.alg !== undefined && jwk.alg !== 'EdDSA') || (jwk.use !== undefined && jwk.use !== 'sig')) {
    return fail('UNSUPPORTED_ALGORITHM', `Key ${header.kid} is not an Ed25519 signing key`);
  }
  const signature = decodeSegment(s);
  if (!signature || signature.length !== 64) return fail('BAD_SIGNATURE', 'Not an Ed25519 signature');
  let ok: boolean;
  try {
    const key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
    ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, new TextEncoder().encode(`${h}.${p}`));
  } catch {
    return fail('UNSUPPORTED_ALGORITHM', `Key ${header.kid} is not a usable Ed25519 key (or this runtime lacks WebCrypto Ed25519)`);
  }
  if (!ok) return fail('BAD_SIGNATURE', 'The signature does not match');
  const payload = decodeJson(p);
  if (!payload || payload.iss !== 'ehub' || typeof payload.exp !== 'number' || typeof payload.iat !== 'number' || !Array.isArray(payload.entitlements)) {
    return fail('MALFORMED', 'Not an Entitlement Hub payload');
  }
  const expiresAt = new Date(payload.exp * 1000);
  if (now.getTime() >= expiresAt.getTime()) return fail('EXPIRED', `The certificate expired at ${expiresAt.toISOString()}`);
  return { valid: true, payload: payload as unknown as CertificatePayload, expiresAt };
}

/** Where a certified entitlement stands at `now`, from its dates alone. */
export function entitlementStateAt(e: Pick<CertificateEntitlement, 'startsAt' | 'endsAt' | 'graceEndsAt'>, now: Date): 'ACTIVE' | 'IN_GRACE' | 'NOT_STARTED' | 'EXPIRED' {
  const t = now.getTime();
  if (t < Date.parse(e.startsAt)) return 'NOT_STARTED';
  if (e.endsAt !== null && t >= Date.parse(e.graceEndsAt ?? e.endsAt)) return 'EXPIRED';
  if (e.endsAt !== null && t >= Date.parse(e.endsAt)) return 'IN_GRACE';
  return 'ACTIVE';
}
