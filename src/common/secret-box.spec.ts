import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deriveKey, openWith, SecretBox, sealWith } from './secret-box';

describe('secret box (AES-256-GCM)', () => {
  const key = deriveKey('k'.repeat(32));

  it('round-trips, with a fresh IV each time', () => {
    const a = sealWith(key, 'whsec_abc', 'ctx');
    const b = sealWith(key, 'whsec_abc', 'ctx');
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from('whsec_abc'))).toBe(false);
    expect(openWith(key, a, 'ctx')).toBe('whsec_abc');
  });

  it('refuses another key, another context or a flipped bit, with a clear message', () => {
    const sealed = sealWith(key, 'whsec_abc', 'webhook_endpoint:1:secret');
    expect(() => openWith(deriveKey('x'.repeat(32)), sealed, 'webhook_endpoint:1:secret')).toThrow(/EHUB_SECRET_KEY/);
    expect(() => openWith(key, sealed, 'webhook_endpoint:2:secret')).toThrow(/cannot be decrypted/);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => openWith(key, flipped, 'webhook_endpoint:1:secret')).toThrow(/cannot be decrypted/);
    expect(() => openWith(key, Buffer.from([9, 1, 2]), 'x')).toThrow(/known version/);
  });

  it('uses EHUB_SECRET_KEY when set, else generates one key into the data directory and keeps it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-secret-box-'));
    try {
      const fromEnv = new SecretBox({ EHUB_SECRET_KEY: 'e'.repeat(40), dataDir: dir });
      const sealed = await fromEnv.seal('s1', 'c');
      expect(await new SecretBox({ EHUB_SECRET_KEY: 'e'.repeat(40), dataDir: dir }).open(sealed, 'c')).toBe('s1');
      await expect(fs.access(path.join(dir, 'secret.key'))).rejects.toThrow();

      // Two boxes generating at once agree on one key.
      const [a, b] = [new SecretBox({ dataDir: dir }), new SecretBox({ dataDir: dir })];
      const [sa, sb] = await Promise.all([a.seal('s2', 'c'), b.seal('s3', 'c')]);
      const later = new SecretBox({ dataDir: dir });
      expect(await later.open(sa, 'c')).toBe('s2');
      expect(await later.open(sb, 'c')).toBe('s3');
      const stat = await fs.stat(path.join(dir, 'secret.key'));
      expect(stat.mode & 0o777).toBe(0o600);
      await expect(fromEnv.open(sa, 'c')).rejects.toThrow(/EHUB_SECRET_KEY/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
