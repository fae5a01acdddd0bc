import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

/**
 * Layout of a sealed value: version byte, [v2: 4-byte key id], 12-byte IV, 16-byte GCM tag,
 * ciphertext. Version 1 (no key id) is still read; new values are version 2, so a value
 * names the key that opens it and `ehub secrets rotate` can find those under an old key.
 */
const V1 = 1;
const V2 = 2;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_FILE = 'secret.key';
const HKDF_INFO = 'ehub secret-box v1';

/** Derives the AES-256 key from the key material (EHUB_SECRET_KEY or the generated file). */
export function deriveKey(material: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', Buffer.from(material, 'utf8'), Buffer.from('ehub'), Buffer.from(HKDF_INFO), 32));
}

/** A short public fingerprint of a key (not secret: a hash of the derived key). */
export function keyId(key: Buffer): Buffer {
  return crypto.createHash('sha256').update('ehub secret-box key id').update(key).digest().subarray(0, KEY_ID_BYTES);
}

/** AES-256-GCM; `context` is bound as associated data, so a value only opens where it was sealed. */
export function sealWith(key: Buffer, plaintext: string, context: string): Buffer {
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([V2]), keyId(key), iv, cipher.getAuthTag(), body]);
}

const UNREADABLE =
  'A stored secret cannot be decrypted: EHUB_SECRET_KEY (or EHUB_DATA_DIR/secret.key) is not the key it was stored with. Restore that key (while rotating: as EHUB_SECRET_KEY_PREVIOUS), or set the secret again.';

function decrypt(key: Buffer, iv: Buffer, tag: Buffer, body: Buffer, context: string): string | null {
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Opens a sealed value with whichever of `keys` sealed it (version 2 names it; version 1 tries each). */
export function openWith(keys: Buffer | Buffer[], sealed: Buffer, context: string): string {
  const ring = Array.isArray(keys) ? keys : [keys];
  const version = sealed[0];
  const head = version === V2 ? 1 + KEY_ID_BYTES : 1;
  if ((version !== V1 && version !== V2) || sealed.length < head + IV_BYTES + TAG_BYTES) throw new Error('not a sealed value of a known version');
  const iv = sealed.subarray(head, head + IV_BYTES);
  const tag = sealed.subarray(head + IV_BYTES, head + IV_BYTES + TAG_BYTES);
  const body = sealed.subarray(head + IV_BYTES + TAG_BYTES);
  const id = version === V2 ? sealed.subarray(1, 1 + KEY_ID_BYTES) : null;
  const candidates = id ? ring.filter((k) => keyId(k).equals(id)) : ring;
  for (const key of candidates) {
    const plain = decrypt(key, iv, tag, body, context);
    if (plain !== null) return plain;
  }
  throw new Error(id && candidates.length === 0 ? `${UNREADABLE} (It was sealed with key id ${id.toString('hex')}.)` : UNREADABLE);
}

/** True when a sealed value is a version-2 value under `key` (nothing to rotate). */
export function sealedWith(key: Buffer, sealed: Buffer): boolean {
  return sealed[0] === V2 && sealed.subarray(1, 1 + KEY_ID_BYTES).equals(keyId(key));
}

export interface SecretBoxConfig {
  EHUB_SECRET_KEY?: string;
  /** The key being rotated away from: still accepted for reading, never for writing. */
  EHUB_SECRET_KEY_PREVIOUS?: string;
  dataDir: string;
}

/**
 * Encrypts secrets the hub must read back later (webhook signing secrets, connector
 * credentials), with a key derived from EHUB_SECRET_KEY. Unset, a random key is generated
 * into `<EHUB_DATA_DIR>/secret.key` on first use (like the signing key): fine for one
 * instance; several instances must share it or set EHUB_SECRET_KEY. While rotating,
 * EHUB_SECRET_KEY_PREVIOUS still opens what the old key sealed (docs/operations.md).
 */
export class SecretBox {
  private key: Promise<Buffer> | null = null;
  private readonly previous: Buffer | null;

  constructor(private readonly config: SecretBoxConfig) {
    this.previous = config.EHUB_SECRET_KEY_PREVIOUS ? deriveKey(config.EHUB_SECRET_KEY_PREVIOUS) : null;
  }

  get keyFile(): string {
    return path.join(this.config.dataDir, KEY_FILE);
  }

  /** Seals with the current key (never the previous one). */
  async seal(plaintext: string, context: string, log?: Logger): Promise<Buffer> {
    return sealWith(await this.loadKey(log), plaintext, context);
  }

  /** Opens a value sealed with the current key or, during a rotation, the previous one. */
  async open(sealed: Buffer, context: string, log?: Logger): Promise<string> {
    const current = await this.loadKey(log);
    return openWith(this.previous ? [current, this.previous] : [current], sealed, context);
  }

  /** True when `sealed` is already under the current key. */
  async isCurrent(sealed: Buffer, log?: Logger): Promise<boolean> {
    return sealedWith(await this.loadKey(log), sealed);
  }

  /** The current key's id (public), e.g. to find rows sealed under another key in SQL. */
  async currentKeyId(log?: Logger): Promise<Buffer> {
    return keyId(await this.loadKey(log));
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
