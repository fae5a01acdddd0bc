import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

/** Layout of a sealed value: version byte, 12-byte IV, 16-byte GCM tag, ciphertext. */
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_FILE = 'secret.key';
const HKDF_INFO = 'ehub secret-box v1';

/** Derives the AES-256 key from the key material (EHUB_SECRET_KEY or the generated file). */
export function deriveKey(material: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', Buffer.from(material, 'utf8'), Buffer.from('ehub'), Buffer.from(HKDF_INFO), 32));
}

/** AES-256-GCM; `context` is bound as associated data, so a value only opens where it was sealed. */
export function sealWith(key: Buffer, plaintext: string, context: string): Buffer {
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

export function openWith(key: Buffer, sealed: Buffer, context: string): string {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new Error('not a sealed value of a known version');
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error(
      'A stored secret cannot be decrypted: EHUB_SECRET_KEY (or EHUB_DATA_DIR/secret.key) is not the key it was stored with. Restore that key, or rotate the secret.',
    );
  }
}

/**
 * Encrypts secrets the hub must read back later (webhook signing secrets; connector
 * credentials later), with a key derived from EHUB_SECRET_KEY. Unset, a random key is
 * generated into `<EHUB_DATA_DIR>/secret.key` on first use (like the signing key): fine for
 * one instance; several instances must share it or set EHUB_SECRET_KEY.
 */
export class SecretBox {
  private key: Promise<Buffer> | null = null;

  constructor(private readonly config: { EHUB_SECRET_KEY?: string; dataDir: string }) {}

  get keyFile(): string {
    return path.join(this.config.dataDir, KEY_FILE);
  }

  async seal(plaintext: string, context: string, log?: Logger): Promise<Buffer> {
    return sealWith(await this.loadKey(log), plaintext, context);
  }

  async open(sealed: Buffer, context: string, log?: Logger): Promise<string> {
    return openWith(await this.loadKey(log), sealed, context);
  }

  private loadKey(log?: Logger): Promise<Buffer> {
    this.key ??= this.readOrGenerate(log).catch((err) => {
      this.key = null;
      throw err;
    });
    return this.key;
  }

  private async readOrGenerate(log?: Logger): Promise<Buffer> {
    if (this.config.EHUB_SECRET_KEY) return deriveKey(this.config.EHUB_SECRET_KEY);
    const file = this.keyFile;
    try {
      return deriveKey(await readKeyFile(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await fs.mkdir(this.config.dataDir, { recursive: true });
    const material = crypto.randomBytes(32).toString('base64');
    // Written aside, then linked into place: link() fails if the file exists, so of two
    // processes starting at once one key wins, and nobody ever reads a half-written file.
    const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, `${material}\n`, { mode: 0o600 });
    try {
      await fs.link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return deriveKey(await readKeyFile(file));
    } finally {
      await fs.rm(tmp, { force: true });
    }
    log?.warn({ file }, `EHUB_SECRET_KEY is not set: a key for stored secrets was generated into ${file} (back it up, or set EHUB_SECRET_KEY)`);
    return deriveKey(material);
  }
}

async function readKeyFile(file: string): Promise<string> {
  const text = (await fs.readFile(file, 'utf8')).trim();
  if (text.length < 32) throw new Error(`${file} should hold the key for stored secrets (32+ characters); it is too short`);
  return text;
}
