/**
 * Offline verification of Entitlement Hub certificates.
 *
 * This file is self-contained on purpose: it imports nothing from the hub (only
 * `node:crypto`), so licensing clients, on-premises agents and embedded SDKs can copy it
 * as is. A certificate is a compact JWS, `base64url(header).base64url(payload).base64url(sig)`,
 * signed with Ed25519 (`alg: "EdDSA"`); the public keys come from the hub's
 * `GET /.well-known/jwks.json`, which can be saved to a file and shipped with the client.
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';

/** The media type in every certificate header (`typ`). */
export const CERTIFICATE_TYPE = 'ehub-cert+jwt';
/** The issuer claim (`iss`) of every certificate. */
export const CERTIFICATE_ISSUER = 'ehub';

/** A JSON Web Key as served in the JWKS (only OKP/Ed25519 keys are used by the hub). */
export interface Jwk {
  kty: string;
  crv?: string;
  x?: string;
  kid?: string;
  use?: string;
  alg?: string;
  [member: string]: unknown;
}

export interface CertificateHeader {
  alg: 'EdDSA';
  typ: typeof CERTIFICATE_TYPE;
  kid: string;
}

/** One feature an entitlement grants; `limit` is a decimal string, null = unlimited. */
export interface CertificateFeature {
  key: string;
  limit: string | null;
}

/** One entitlement as certified: usable (or in its grace period) when the certificate was issued. */
export interface CertificateEntitlement {
  id: string;
  sku: string;
  /** PERPETUAL, SUBSCRIPTION, DEVICE_LOCKED, NAMED_USER, CONCURRENT, USAGE, METERED or OUTCOME. */
  model: string;
  /** The effective status when issued (ACTIVE; the dates below tell when it stops). */
  status: string;
  /** ISO 8601 instants; endsAt/graceEndsAt null = never ends. */
  startsAt: string;
  endsAt: string | null;
  graceEndsAt: string | null;
  /** Devices, seats, floating licences, or units multiplying per-unit limits. */
  quantity: number;
  /** For METERED (and soft-capped USAGE/OUTCOME): BLOCK, ALLOW or ALLOW_AND_NOTIFY. */
  overagePolicy: string | null;
  /** For METERED: DAILY, MONTHLY, ANNUAL or TERM. */
  resetPeriod: string | null;
  features: CertificateFeature[];
}

export interface CertificatePayload {
  iss: typeof CERTIFICATE_ISSUER;
  /** The account id. */
  sub: string;
  account: { id: string; name: string };
  /** The device fingerprint the certificate is bound to, or null. */
  device: string | null;
  entitlements: CertificateEntitlement[];
  /** Issued at / expires at, in seconds since the epoch. */
  iat: number;
  exp: number;
  /** A unique id for this certificate. */
  jti: string;
}

export type VerificationFailure =
  | 'MALFORMED'
  | 'UNSUPPORTED_ALGORITHM'
  | 'UNKNOWN_KEY'
  | 'BAD_SIGNATURE'
  | 'EXPIRED';

export type VerificationResult =
  | { valid: true; header: CertificateHeader; payload: CertificatePayload; issuedAt: Date; expiresAt: Date }
  | { valid: false; reason: VerificationFailure; message: string };

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const ED25519_SIGNATURE_BYTES = 64;

function fail(reason: VerificationFailure, message: string): VerificationResult {
  return { valid: false, reason, message };
}

/**
 * Decodes one base64url segment, refusing anything but its canonical form: Node's decoder
 * ignores stray characters and unused trailing bits, which would let a changed character
 * decode to the same bytes.
 */
function decodeSegment(segment: string): Buffer | null {
  if (!SEGMENT.test(segment)) return null;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : null;
}

function decodeJson(segment: string): Record<string, unknown> | null {
  const bytes = decodeSegment(segment);
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Verifies a certificate with nothing but a JWKS: the signature (Ed25519, with the key its
 * `kid` names), the algorithm, the type and the expiry. Never throws for a bad certificate:
 * it answers `{ valid: false, reason, message }`. The signature is checked before anything
 * in the payload is believed.
 *
 * A valid certificate certifies the rights as they were when it was issued; each
 * entitlement still stops at its own `graceEndsAt` (see `entitlementStateAt`).
 */
export function verifyCertificate(certificate: string, jwks: { keys: Jwk[] }, now: Date = new Date()): VerificationResult {
  const parts = certificate.trim().split('.');
  if (parts.length !== 3) return fail('MALFORMED', 'Not a compact certificate: expected three base64url parts separated by dots');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  const header = decodeJson(headerPart);
  if (!header) return fail('MALFORMED', 'The certificate header is not base64url-encoded JSON');
  if (header.alg !== 'EdDSA') return fail('UNSUPPORTED_ALGORITHM', `Unsupported algorithm ${JSON.stringify(header.alg)}; only EdDSA (Ed25519) is accepted`);
  if (header.typ !== CERTIFICATE_TYPE) return fail('MALFORMED', `Not an Entitlement Hub certificate (typ ${JSON.stringify(header.typ)}, expected "${CERTIFICATE_TYPE}")`);
  if (typeof header.kid !== 'string' || header.kid.length === 0) return fail('MALFORMED', 'The certificate header names no key (kid)');

  const jwk = (Array.isArray(jwks?.keys) ? jwks.keys : []).find((k) => k && k.kid === header.kid);
  if (!jwk) return fail('UNKNOWN_KEY', `The certificate was signed with key ${header.kid}, which is not in the JWKS (fetch a fresh /.well-known/jwks.json)`);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || (jwk.alg !== undefined && jwk.alg !== 'EdDSA') || (jwk.use !== undefined && jwk.use !== 'sig')) {
    return fail('UNSUPPORTED_ALGORITHM', `Key ${header.kid} in the JWKS is not an Ed25519 signing key`);
  }

  const signature = decodeSegment(signaturePart);
  if (!signature || signature.length !== ED25519_SIGNATURE_BYTES) return fail('BAD_SIGNATURE', 'The signature is not a base64url-encoded Ed25519 signature');
  let valid: boolean;
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    valid = verifySignature(null, Buffer.from(`${headerPart}.${payloadPart}`, 'ascii'), key, signature);
  } catch {
    return fail('UNSUPPORTED_ALGORITHM', `Key ${header.kid} in the JWKS is not a usable Ed25519 public key`);
  }
  if (!valid) return fail('BAD_SIGNATURE', 'The signature does not match: the certificate was altered or not signed by this key');

  const payload = decodeJson(payloadPart);
  if (!payload || payload.iss !== CERTIFICATE_ISSUER || typeof payload.exp !== 'number' || typeof payload.iat !== 'number' || !Array.isArray(payload.entitlements)) {
    return fail('MALFORMED', 'The certificate payload is not an Entitlement Hub payload');
  }
  const expiresAt = new Date(payload.exp * 1000);
  if (now.getTime() >= expiresAt.getTime()) return fail('EXPIRED', `The certificate expired at ${expiresAt.toISOString()}; ask the hub for a new one`);
  return {
    valid: true,
    header: header as unknown as CertificateHeader,
    payload: payload as unknown as CertificatePayload,
    issuedAt: new Date(payload.iat * 1000),
    expiresAt,
  };
}

/** Where an entitlement of a certificate stands at `now`, from its dates alone. */
export type EntitlementState = 'ACTIVE' | 'IN_GRACE' | 'NOT_STARTED' | 'EXPIRED';

/**
 * The state of a certified entitlement at `now` (an offline client's clock): usable when
 * ACTIVE or IN_GRACE. Suspensions and cancellations after issue reach a client only with a
 * new certificate, which is why certificates should be short-lived and refreshed.
 */
export function entitlementStateAt(e: Pick<CertificateEntitlement, 'startsAt' | 'endsAt' | 'graceEndsAt'>, now: Date = new Date()): EntitlementState {
  const t = now.getTime();
  if (t < Date.parse(e.startsAt)) return 'NOT_STARTED';
  if (e.endsAt !== null && t >= Date.parse(e.graceEndsAt ?? e.endsAt)) return 'EXPIRED';
  if (e.endsAt !== null && t >= Date.parse(e.endsAt)) return 'IN_GRACE';
  return 'ACTIVE';
}
