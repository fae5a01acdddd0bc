/**
 * Offline verification of Entitlement Hub artifact signatures (docs/delivery.md, ADR 0038).
 *
 * Self-contained on purpose (imports only `node:crypto`), like certificate.verify.ts, so
 * device agents and installers can copy it. An artifact signature is a compact JWS,
 * header `{ alg: "EdDSA", typ: "ehub-artifact+jws", kid }`, whose payload names the file's
 * size, SHA-256 and SHA-512; it is signed with the same Ed25519 keys as certificates and
 * verified with the same JWKS (`GET /.well-known/jwks.json`). The `.sig` file beside an
 * artifact is JSON: `{ "signature": "<compact JWS>", ... }` (the bare JWS is accepted too).
 */
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';

export const ARTIFACT_SIGNATURE_TYPE = 'ehub-artifact+jws';

export interface ArtifactJwk {
  kty: string;
  crv?: string;
  x?: string;
  kid?: string;
  use?: string;
  alg?: string;
  [member: string]: unknown;
}

/** What an artifact signature certifies. */
export interface ArtifactSignaturePayload {
  iss: 'ehub';
  /** The artifact id, its release id, product SKU and release version. */
  artifact: string;
  release: string;
  product: string;
  version: string;
  channel: string;
  /** The file name as uploaded, its platform and architecture (null = any). */
  file: string;
  platform: string | null;
  arch: string | null;
  /** Size in bytes, lower-case hex digests. */
  size: number;
  sha256: string;
  sha512: string;
  /** Signed at, seconds since the epoch. */
  iat: number;
}

export type ArtifactVerificationFailure = 'MALFORMED' | 'UNSUPPORTED_ALGORITHM' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'SIZE_MISMATCH' | 'DIGEST_MISMATCH';

export type ArtifactVerificationResult =
  | { valid: true; kid: string; payload: ArtifactSignaturePayload }
  | { valid: false; reason: ArtifactVerificationFailure; message: string };

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);

function fail(reason: ArtifactVerificationFailure, message: string): ArtifactVerificationResult {
  return { valid: false, reason, message };
}

/** Canonical base64url only (Node's decoder ignores stray trailing bits). */
function decodeSegment(segment: string): Buffer | null {
  if (!SEGMENT.test(segment)) return null;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : null;
}

function decodeJson(segment: string): Record<string, unknown> | null {
  const bytes = decodeSegment(segment);
  if (!bytes) return null;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The compact JWS from a `.sig` file's text: JSON with a `signature` member, or the bare JWS. */
export function parseSignatureFile(text: string): string {
  const t = text.trim();
  if (!t.startsWith('{')) return t;
  try {
    const j = JSON.parse(t) as { signature?: unknown };
    return typeof j.signature === 'string' ? j.signature : '';
  } catch {
    return '';
  }
}

/** Checks the signature alone (key, algorithm, type): the payload is believed only after this. */
export function verifyArtifactSignature(signature: string, jwks: { keys: ArtifactJwk[] }): ArtifactVerificationResult {
  const parts = signature.trim().split('.');
  if (parts.length !== 3) return fail('MALFORMED', 'Not a compact artifact signature: expected three base64url parts separated by dots');
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  if (!header) return fail('MALFORMED', 'The signature header is not base64url-encoded JSON');
  if (header.alg !== 'EdDSA') return fail('UNSUPPORTED_ALGORITHM', `Unsupported algorithm ${JSON.stringify(header.alg)}; only EdDSA (Ed25519) is accepted`);
  if (header.typ !== ARTIFACT_SIGNATURE_TYPE) return fail('MALFORMED', `Not an artifact signature (typ ${JSON.stringify(header.typ)}, expected "${ARTIFACT_SIGNATURE_TYPE}")`);
  if (typeof header.kid !== 'string' || !header.kid) return fail('MALFORMED', 'The signature header names no key (kid)');
  const jwk = (Array.isArray(jwks?.keys) ? jwks.keys : []).find((k) => k && k.kid === header.kid);
  if (!jwk) return fail('UNKNOWN_KEY', `The artifact was signed with key ${header.kid}, which is not in the JWKS (fetch a fresh /.well-known/jwks.json)`);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return fail('UNSUPPORTED_ALGORITHM', `Key ${header.kid} is not an Ed25519 key`);
  const sig = decodeSegment(s);
  if (!sig || sig.length !== 64) return fail('BAD_SIGNATURE', 'The signature is not a base64url-encoded Ed25519 signature');
  let ok: boolean;
  try {
    ok = verifySignature(null, Buffer.from(`${h}.${p}`, 'ascii'), createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }), sig);
  } catch {
    return fail('UNSUPPORTED_ALGORITHM', `Key ${header.kid} is not a usable Ed25519 public key`);
  }
  if (!ok) return fail('BAD_SIGNATURE', 'The signature does not match: the .sig file was altered or not signed by this key');
  const payload = decodeJson(p);
  if (!payload || payload.iss !== 'ehub' || typeof payload.size !== 'number' || typeof payload.sha256 !== 'string' || !HEX(64).test(payload.sha256) || typeof payload.sha512 !== 'string' || !HEX(128).test(payload.sha512)) {
    return fail('MALFORMED', 'The signature payload is not an Entitlement Hub artifact payload');
  }
  return { valid: true, kid: header.kid, payload: payload as unknown as ArtifactSignaturePayload };
}

/** Hashes a file as it streams (any async iterable of byte chunks: fs.createReadStream, a fetch body...). */
export async function digestStream(chunks: AsyncIterable<Uint8Array>): Promise<{ size: number; sha256: string; sha512: string }> {
  const a = createHash('sha256');
  const b = createHash('sha512');
  let size = 0;
  for await (const c of chunks) {
    a.update(c);
    b.update(c);
    size += c.length;
  }
  return { size, sha256: a.digest('hex'), sha512: b.digest('hex') };
}

/** Verifies a file's bytes against a signature: the signature first, then size, SHA-512 and SHA-256. */
export async function verifyArtifact(chunks: AsyncIterable<Uint8Array>, signature: string, jwks: { keys: ArtifactJwk[] }): Promise<ArtifactVerificationResult> {
  const checked = verifyArtifactSignature(signature, jwks);
  if (!checked.valid) return checked;
  const d = await digestStream(chunks);
  const p = checked.payload;
  if (d.size !== p.size) return fail('SIZE_MISMATCH', `The file is ${d.size} bytes; the signature certifies ${p.size} bytes (truncated or not this artifact)`);
  if (d.sha512 !== p.sha512 || d.sha256 !== p.sha256) return fail('DIGEST_MISMATCH', `The file's SHA-512 is ${d.sha512.slice(0, 16)}…, the signature certifies ${p.sha512.slice(0, 16)}…: the file was altered or is another file`);
  return checked;
}
