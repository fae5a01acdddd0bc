import fs from 'node:fs';
import path from 'node:path';
import { entitlementStateAt, verifyCertificate, type CertificatePayload, type Jwk } from './certificate.verify';
import { generateSigningKey, signCompact, type SigningKeyPair } from './signing-key.crypto';

const NOW = new Date('2027-03-01T12:00:00Z');
const iat = NOW.getTime() / 1000;

function payload(over: Partial<CertificatePayload> = {}): CertificatePayload {
  return {
    iss: 'ehub',
    sub: 'acc-1',
    account: { id: 'acc-1', name: 'Acme' },
    device: 'fp-1',
    entitlements: [
      {
        id: 'ent-1',
        sku: 'DEV-LOCK',
        model: 'DEVICE_LOCKED',
        status: 'ACTIVE',
        startsAt: '2027-01-01T00:00:00.000Z',
        endsAt: '2028-01-01T00:00:00.000Z',
        graceEndsAt: '2028-01-01T00:00:00.000Z',
        quantity: 5,
        overagePolicy: null,
        resetPeriod: null,
        features: [{ key: 'designer.render', limit: '5' }],
      },
    ],
    iat,
    exp: iat + 3600,
    jti: '6c3f8f0e-1111-4222-8333-444455556666',
    ...over,
  };
}

const jwkOf = (k: SigningKeyPair): Jwk => ({ ...k.publicJwk, kid: k.kid, use: 'sig', alg: 'EdDSA' });
const issue = (k: SigningKeyPair, p = payload(), header: Record<string, unknown> = {}) =>
  signCompact({ alg: 'EdDSA', typ: 'ehub-cert+jwt', kid: k.kid, ...header }, { ...p }, k.privateKey);

describe('verifyCertificate', () => {
  const key = generateSigningKey();
  const other = generateSigningKey();
  const jwks = { keys: [jwkOf(other), jwkOf(key)] };
  const cert = issue(key);

  it('accepts a certificate signed by a key of the JWKS, and returns its payload', () => {
    const r = verifyCertificate(cert, jwks, NOW);
    expect(r).toMatchObject({ valid: true, header: { alg: 'EdDSA', typ: 'ehub-cert+jwt', kid: key.kid }, payload: payload() });
    if (r.valid) expect(r.expiresAt.toISOString()).toBe('2027-03-01T13:00:00.000Z');
    expect(verifyCertificate(`  ${cert}\n`, jwks, NOW).valid).toBe(true);
  });

  it('refuses a certificate with any single character changed: header, payload or signature', () => {
    const [h, p] = cert.split('.') as [string, string, string];
    const spots = {
      header: 5,
      payload: h.length + 1 + Math.floor(p.length / 2),
      signature: h.length + p.length + 2 + 10,
    };
    for (const [part, i] of Object.entries(spots)) {
      const c = cert.charCodeAt(i);
      const changed = cert.slice(0, i) + String.fromCharCode(c === 0x41 ? 0x42 : 0x41) + cert.slice(i + 1);
      const r = verifyCertificate(changed, jwks, NOW);
      expect({ part, valid: r.valid }).toEqual({ part, valid: false });
    }
    expect(verifyCertificate(cert.slice(0, spots.signature) + (cert[spots.signature] === 'A' ? 'B' : 'A') + cert.slice(spots.signature + 1), jwks, NOW)).toMatchObject({
      reason: 'BAD_SIGNATURE',
    });
  });

  it('refuses every one-bit flip of every byte of the certificate', () => {
    for (let i = 0; i < cert.length; i++) {
      const flipped = cert.slice(0, i) + String.fromCharCode(cert.charCodeAt(i) ^ 1) + cert.slice(i + 1);
      const r = verifyCertificate(flipped, jwks, NOW);
      if (r.valid) throw new Error(`flipping byte ${i} of ${cert.length} was not detected`);
    }
  });

  it('refuses a signature whose unused trailing bits were changed (non-canonical base64url)', () => {
    // 64 bytes = 86 base64url characters: the last one carries 4 unused bits.
    const last = cert[cert.length - 1]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBits = alphabet[(alphabet.indexOf(last) & ~0xf) | ((alphabet.indexOf(last) + 1) & 0xf)]!;
    const variant = cert.slice(0, -1) + sameBits;
    expect(Buffer.from(variant.split('.')[2]!, 'base64url')).toEqual(Buffer.from(cert.split('.')[2]!, 'base64url'));
    expect(verifyCertificate(variant, jwks, NOW)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
  });

  it('refuses an expired certificate (from exp on), after checking the signature', () => {
    expect(verifyCertificate(cert, jwks, new Date((iat + 3599) * 1000)).valid).toBe(true);
    expect(verifyCertificate(cert, jwks, new Date((iat + 3600) * 1000))).toMatchObject({ valid: false, reason: 'EXPIRED' });
    const expired = issue(key, payload({ exp: iat - 1 }));
    expect(verifyCertificate(expired, jwks, NOW)).toMatchObject({ valid: false, reason: 'EXPIRED', message: expect.stringContaining('expired at') });
  });

  it('refuses an unknown kid, a key that did not sign it, and other algorithms', () => {
    expect(verifyCertificate(cert, { keys: [jwkOf(other)] }, NOW)).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY' });
    expect(verifyCertificate(cert, { keys: [] }, NOW)).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY' });
    // The right kid on another key (a forged JWKS entry).
    expect(verifyCertificate(cert, { keys: [{ ...jwkOf(other), kid: key.kid }] }, NOW)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    // Signed by `other` but claiming `key`'s kid.
    expect(verifyCertificate(issue(other, payload(), { kid: key.kid }), jwks, NOW)).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    for (const alg of ['none', 'HS256', 'ES256']) {
      expect(verifyCertificate(issue(key, payload(), { alg }), jwks, NOW)).toMatchObject({ valid: false, reason: 'UNSUPPORTED_ALGORITHM' });
    }
    expect(verifyCertificate(cert, { keys: [{ ...jwkOf(key), kty: 'RSA' }] }, NOW)).toMatchObject({ valid: false, reason: 'UNSUPPORTED_ALGORITHM' });
    expect(verifyCertificate(cert, { keys: [{ ...jwkOf(key), x: 'AAAA' }] }, NOW)).toMatchObject({ valid: false, reason: 'UNSUPPORTED_ALGORITHM' });
  });

  it('refuses things that are not certificates', () => {
    for (const bad of ['', 'abc', 'a.b', 'a.b.c.d', `${cert}.`, cert.replace('.', '..'), 'e30.e30.e30']) {
      expect(verifyCertificate(bad, jwks, NOW).valid).toBe(false);
    }
    expect(verifyCertificate(issue(key, payload(), { typ: 'JWT' }), jwks, NOW)).toMatchObject({ valid: false, reason: 'MALFORMED' });
    expect(verifyCertificate(issue(key, { ...payload(), iss: 'someone' } as unknown as CertificatePayload), jwks, NOW)).toMatchObject({
      valid: false,
      reason: 'MALFORMED',
    });
  });

  it('imports nothing from the hub (so clients can copy the file)', () => {
    const source = fs.readFileSync(path.join(__dirname, 'certificate.verify.ts'), 'utf8');
    const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports).toEqual(['node:crypto']);
  });
});

describe('entitlementStateAt', () => {
  const e = { startsAt: '2027-01-01T00:00:00Z', endsAt: '2028-01-01T00:00:00Z', graceEndsAt: '2028-01-15T00:00:00Z' };
  it('reads the dates: not started, active, in grace, expired; perpetual never ends', () => {
    expect(entitlementStateAt(e, new Date('2026-12-31T23:59:59Z'))).toBe('NOT_STARTED');
    expect(entitlementStateAt(e, new Date('2027-01-01T00:00:00Z'))).toBe('ACTIVE');
    expect(entitlementStateAt(e, new Date('2028-01-01T00:00:00Z'))).toBe('IN_GRACE');
    expect(entitlementStateAt(e, new Date('2028-01-15T00:00:00Z'))).toBe('EXPIRED');
    expect(entitlementStateAt({ ...e, graceEndsAt: e.endsAt }, new Date('2028-01-01T00:00:00Z'))).toBe('EXPIRED');
    expect(entitlementStateAt({ ...e, endsAt: null, graceEndsAt: null }, new Date('2100-01-01T00:00:00Z'))).toBe('ACTIVE');
  });
});
