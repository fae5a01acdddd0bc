import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Jwk } from './certificate.verify';

/** A private signing key with its key id. */
export interface SigningKeyPair {
  kid: string;
  privateKey: KeyObject;
  /** `{ kty: "OKP", crv: "Ed25519", x }`: what the JWKS publishes (plus kid, use, alg). */
  publicJwk: Jwk;
}

/** The public JWK members of an Ed25519 key (from its private or public KeyObject). */
export function publicJwkOf(key: KeyObject): Jwk {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  return { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! };
}

/**
 * RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order with no
 * whitespace (for OKP keys: crv, kty, x), base64url.
 */
export function jwkThumbprint(jwk: Jwk): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/** The key id: the first 16 characters of the thumbprint (96 bits: unique enough, short to read). */
export function kidOf(jwk: Jwk): string {
  return jwkThumbprint(jwk).slice(0, 16);
}

function pairOf(privateKey: KeyObject): SigningKeyPair {
  const publicJwk = publicJwkOf(privateKey);
  return { kid: kidOf(publicJwk), privateKey, publicJwk };
}

export function generateSigningKey(): SigningKeyPair {
  return pairOf(generateKeyPairSync('ed25519').privateKey);
}

/** The PKCS#8 PEM of a private key, as written to the data directory. */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * Reads an Ed25519 private key as EHUB_SIGNING_KEY or a key file gives it: PKCS#8 PEM
 * (`-----BEGIN PRIVATE KEY-----`, literal `\n` escapes accepted, as env files often have
 * them), or the base64 of that PEM, or the base64 of the PKCS#8 DER. Throws a message that
 * says which of these it expected.
 */
export function parseSigningKey(text: string, source = 'EHUB_SIGNING_KEY'): SigningKeyPair {
  const value = text.trim().replace(/\\n/g, '\n');
  let key: KeyObject;
  try {
    if (value.includes('-----BEGIN')) {
      key = createPrivateKey({ key: value, format: 'pem' });
    } else {
      const bytes = Buffer.from(value.replace(/\s+/g, ''), 'base64');
      const asText = bytes.toString('utf8');
      key = asText.includes('-----BEGIN')
        ? createPrivateKey({ key: asText, format: 'pem' })
        : createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
    }
  } catch {
    throw new Error(`${source} is not a private key: give a PKCS#8 PEM Ed25519 private key (openssl genpkey -algorithm ed25519), or its base64`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${source} is a ${key.asymmetricKeyType ?? 'unknown'} key; certificates are signed with Ed25519 (openssl genpkey -algorithm ed25519)`);
  }
  return pairOf(key);
}

/** Signs a compact JWS: base64url(header).base64url(payload).base64url(Ed25519 signature). */
export function signCompact(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${Buffer.from(JSON.stringify(header), 'utf8').toString('base64url')}.${Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')}`;
  const signature = sign(null, Buffer.from(input, 'ascii'), privateKey);
  return `${input}.${signature.toString('base64url')}`;
}
