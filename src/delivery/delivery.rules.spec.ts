import fs from 'node:fs';
import path from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { signCompact, publicJwkOf } from '../certificates/signing-key.crypto';
import { ARTIFACT_SIGNATURE_TYPE, parseSignatureFile, verifyArtifact, verifyArtifactSignature } from './artifact.verify';
import { parseRange } from './links';
import { artifactNameProblem, channelsUpTo, compareVersionsDesc, normalizeVersion } from './release.rules';

describe('release rules', () => {
  it('channels include the more stable ones', () => {
    expect(channelsUpTo('STABLE')).toEqual(['STABLE']);
    expect(channelsUpTo('BETA')).toEqual(['STABLE', 'RC', 'BETA']);
    expect(channelsUpTo('DEV')).toEqual(['STABLE', 'RC', 'BETA', 'ALPHA', 'DEV']);
  });

  it('versions are semver, canonical, ordered by precedence', () => {
    expect(normalizeVersion('v2.4.0')).toBe('2.4.0');
    expect(normalizeVersion('2.4')).toBeNull();
    expect(normalizeVersion('latest')).toBeNull();
    expect(['2.9.0', '2.10.0', '2.10.0-rc.1', '2.10.0-beta.2', '1.0.0'].sort(compareVersionsDesc)).toEqual(['2.10.0', '2.10.0-rc.1', '2.10.0-beta.2', '2.9.0', '1.0.0']);
  });

  it('artifact names are one plain path segment', () => {
    for (const bad of ['', '..', '../x', 'a/b', 'a\\b', 'a\0b', '.env', 'a..b', 'x\ny', 'q"uote', 'x'.repeat(256)]) expect([bad, artifactNameProblem(bad)]).toEqual([bad, expect.any(String)]);
    for (const good of ['fw-2.4.0.img', 'setup_x64.exe', 'app-1.0.0+build.5.tar.gz']) expect(artifactNameProblem(good)).toBeNull();
  });
});

describe('parseRange', () => {
  it('one range of the RFC 9110 forms; past the end unsatisfiable; several ignored', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5-2', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'full' });
  });
});

describe('artifact signatures', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = { ...publicJwkOf(privateKey), kid: 'k1', use: 'sig', alg: 'EdDSA' };
  const bytes = Buffer.from('firmware bytes');
  const payload = {
    iss: 'ehub',
    artifact: 'a',
    release: 'r',
    product: 'P',
    version: '1.0.0',
    channel: 'STABLE',
    file: 'f.bin',
    platform: null,
    arch: null,
    size: bytes.length,
    sha256: '',
    sha512: '',
    iat: 1,
  };
  // The digests of `bytes`, computed here.
  payload.sha256 = createHash('sha256').update(bytes).digest('hex');
  payload.sha512 = createHash('sha512').update(bytes).digest('hex');
  const jws = signCompact({ alg: 'EdDSA', typ: ARTIFACT_SIGNATURE_TYPE, kid: 'k1' }, payload, privateKey);
  async function* chunks(b: Buffer) {
    yield b.subarray(0, 3);
    yield b.subarray(3);
  }

  it('verifies the bytes; a changed byte, a truncation, another key, a certificate type fail', async () => {
    expect(await verifyArtifact(chunks(bytes), jws, { keys: [jwk] })).toMatchObject({ valid: true, kid: 'k1' });
    const changed = Buffer.from(bytes);
    changed[0] = changed[0]! ^ 1;
    expect(await verifyArtifact(chunks(changed), jws, { keys: [jwk] })).toMatchObject({ valid: false, reason: 'DIGEST_MISMATCH' });
    expect(await verifyArtifact(chunks(bytes.subarray(1)), jws, { keys: [jwk] })).toMatchObject({ valid: false, reason: 'SIZE_MISMATCH' });
    expect(verifyArtifactSignature(jws, { keys: [] })).toMatchObject({ valid: false, reason: 'UNKNOWN_KEY' });
    const other = { ...publicJwkOf(generateKeyPairSync('ed25519').privateKey), kid: 'k1' };
    expect(verifyArtifactSignature(jws, { keys: [other] })).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
    const cert = signCompact({ alg: 'EdDSA', typ: 'ehub-cert+jwt', kid: 'k1' }, payload, privateKey);
    expect(verifyArtifactSignature(cert, { keys: [jwk] })).toMatchObject({ valid: false, reason: 'MALFORMED' });
    expect(parseSignatureFile(JSON.stringify({ signature: jws }))).toBe(jws);
    expect(parseSignatureFile(`${jws}\n`)).toBe(jws);
  });

  it('artifact.verify.ts imports only node:crypto (clients copy it as is)', () => {
    const source = fs.readFileSync(path.join(__dirname, 'artifact.verify.ts'), 'utf8');
    expect([...source.matchAll(/from '([^']+)'/g)].map((m) => m[1])).toEqual(['node:crypto']);
  });
});
