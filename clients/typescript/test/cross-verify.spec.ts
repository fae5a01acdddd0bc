import { generateKeyPairSync, sign } from 'node:crypto';
import { verifyCertificate as verifyOnHub, type Jwk } from '../../../src/certificates/certificate.verify';
import { verifyCertificate as verifyInSdk } from '../src/verify';

/**
 * The SDK's verifier (WebCrypto, for browsers and devices) is a copy of the hub's (node:crypto)
 * on purpose — the SDK ships without the hub. This test keeps the two in step: for valid
 * certificates and for every way one can be wrong, both give the same verdict and reason.
 */
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const x = (publicKey.export({ format: 'jwk' }) as { x: string }).x;
const jwk: Jwk = { kty: 'OKP', crv: 'Ed25519', x, kid: 'k1', alg: 'EdDSA', use: 'sig' };
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = new Date('2026-12-01T00:00:00Z');
const payload = (over: Record<string, unknown> = {}) => ({
  iss: 'ehub',
  sub: 'acct',
  iat: now.getTime() / 1000 - 60,
  exp: now.getTime() / 1000 + 3600,
  jti: 'j1',
  account: { id: 'acct' },
  entitlements: [{ id: 'e1', sku: 'L-SUB', model: 'SUBSCRIPTION', status: 'ACTIVE', startsAt: '2026-01-01T00:00:00Z', endsAt: null, graceEndsAt: null, features: [] }],
  ...over,
});
const certify = (header: Record<string, unknown>, body: unknown) => {
  const signing = `${b64(header)}.${b64(body)}`;
  return `${signing}.${sign(null, Buffer.from(signing), privateKey).toString('base64url')}`;
};
const HEADER = { alg: 'EdDSA', typ: 'ehub-cert+jwt', kid: 'k1' };
const valid = certify(HEADER, payload());
const [h, p, s] = valid.split('.') as [string, string, string];
const flip = (seg: string) => (seg[seg.length - 2] === 'A' ? `${seg.slice(0, -2)}B${seg.slice(-1)}` : `${seg.slice(0, -2)}A${seg.slice(-1)}`);

const cases: [string, string, { keys: Jwk[] }][] = [
  ['valid', valid, { keys: [jwk] }],
  ['payload changed after signing', `${h}.${b64(payload({ sub: 'other' }))}.${s}`, { keys: [jwk] }],
  ['signature changed', `${h}.${p}.${flip(s)}`, { keys: [jwk] }],
  ['signature truncated', `${h}.${p}.${s.slice(0, 40)}`, { keys: [jwk] }],
  ['non-canonical base64url (stray padding bits)', `${h}.${p}.${s.slice(0, -1)}${String.fromCharCode(s.charCodeAt(s.length - 1) ^ 1)}`, { keys: [jwk] }],
  ['two parts', `${h}.${p}`, { keys: [jwk] }],
  ['header not JSON', `${b64('not json')}.${p}.${s}`, { keys: [jwk] }],
  ['alg none', certify({ ...HEADER, alg: 'none' }, payload()), { keys: [jwk] }],
  ['alg HS256', certify({ ...HEADER, alg: 'HS256' }, payload()), { keys: [jwk] }],
  ['typ JWT', certify({ ...HEADER, typ: 'JWT' }, payload()), { keys: [jwk] }],
  ['no kid', certify({ alg: 'EdDSA', typ: 'ehub-cert+jwt' }, payload()), { keys: [jwk] }],
  ['unknown kid', certify({ ...HEADER, kid: 'k2' }, payload()), { keys: [jwk] }],
  ['empty JWKS', valid, { keys: [] }],
  ['key of another curve', valid, { keys: [{ ...jwk, crv: 'X25519' }] }],
  ['key for encryption', valid, { keys: [{ ...jwk, use: 'enc' }] }],
  ['key of another algorithm', valid, { keys: [{ ...jwk, alg: 'ES256' }] }],
  ['another Ed25519 key under the same kid', valid, { keys: [{ ...jwk, x: (generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { x: string }).x }] }],
  ['expired', certify(HEADER, payload({ exp: now.getTime() / 1000 - 1 })), { keys: [jwk] }],
  ['another issuer', certify(HEADER, payload({ iss: 'someone' })), { keys: [jwk] }],
  ['no entitlements', certify(HEADER, payload({ entitlements: undefined })), { keys: [jwk] }],
  ['payload an array', certify(HEADER, [1, 2]), { keys: [jwk] }],
];

describe('the SDK and the hub verify certificates alike', () => {
  it.each(cases)('%s', async (_name, cert, jwks) => {
    const hub = verifyOnHub(cert, jwks, now);
    const sdk = await verifyInSdk(cert, jwks, now);
    expect({ valid: sdk.valid, reason: sdk.valid ? null : sdk.reason }).toEqual({ valid: hub.valid, reason: hub.valid ? null : hub.reason });
  });

  it('covers both verdicts and every failure reason', () => {
    const reasons = new Set(cases.map(([, cert, jwks]) => verifyOnHub(cert, jwks, now)).map((r) => (r.valid ? 'VALID' : r.reason)));
    expect([...reasons].sort()).toEqual(['BAD_SIGNATURE', 'EXPIRED', 'MALFORMED', 'UNKNOWN_KEY', 'UNSUPPORTED_ALGORITHM', 'VALID']);
  });
});
