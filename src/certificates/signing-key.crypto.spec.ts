import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { generateSigningKey, jwkThumbprint, kidOf, parseSigningKey, privateKeyPem, publicJwkOf, signCompact } from './signing-key.crypto';

describe('signing keys', () => {
  it('computes the RFC 7638 thumbprint (RFC 8037 A.3 test vector); the kid is its first 16 characters', () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    expect(jwkThumbprint(jwk)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
    expect(kidOf({ ...jwk, kid: 'ignored', use: 'sig' })).toBe('kPrK_qmxVWaYVA9w');
  });

  it('generates Ed25519 keys whose public JWK is OKP/Ed25519', () => {
    const k = generateSigningKey();
    expect(k.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(k.kid).toBe(kidOf(k.publicJwk));
    expect(generateSigningKey().kid).not.toBe(k.kid);
  });

  it('reads EHUB_SIGNING_KEY as PEM, PEM with \\n escapes, base64 of the PEM, or base64 of the DER', () => {
    const k = generateSigningKey();
    const pem = privateKeyPem(k.privateKey);
    const der = k.privateKey.export({ format: 'der', type: 'pkcs8' });
    for (const given of [pem, pem.replace(/\n/g, '\\n'), Buffer.from(pem).toString('base64'), der.toString('base64'), `  ${pem}  `]) {
      expect(parseSigningKey(given).kid).toBe(k.kid);
    }
  });

  it('refuses keys that are not Ed25519 private keys, saying what it expects', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => parseSigningKey(rsa)).toThrow(/rsa key; certificates are signed with Ed25519/);
    expect(() => parseSigningKey('not a key')).toThrow(/EHUB_SIGNING_KEY is not a private key: give a PKCS#8 PEM Ed25519/);
    const pub = createPublicKey(generateSigningKey().privateKey).export({ format: 'pem', type: 'spki' }).toString();
    expect(() => parseSigningKey(pub, 'key.pem')).toThrow(/key.pem is not a private key/);
  });

  it('signs compact JWS that node:crypto verifies with the public JWK', () => {
    const k = generateSigningKey();
    const jws = signCompact({ alg: 'EdDSA', kid: k.kid }, { hello: 'wörld' }, k.privateKey);
    const [h, p, s] = jws.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: k.kid });
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual({ hello: 'wörld' });
    const pub = createPublicKey({ key: publicJwkOf(k.privateKey) as import('node:crypto').JsonWebKey, format: 'jwk' });
    expect(verify(null, Buffer.from(`${h}.${p}`), pub, Buffer.from(s, 'base64url'))).toBe(true);
  });
});
