import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config';

const HKDF_INFO = 'ehub download links v1';
const KEY_FILE = 'download-link.key';

/** The parts of a hub-served download URL: `/v1/downloads/<link>/<artifact>/<name>?expires=<s>&signature=<mac>`. */
export interface SignedLink {
  linkId: string;
  artifactId: string;
  expires: number;
}

/**
 * HMAC-SHA256 download links for the filesystem store. The key is derived from
 * EHUB_SECRET_KEY (HKDF, its own label), or generated once into
 * `<EHUB_DATA_DIR>/download-link.key`. The MAC covers the link id, the artifact id and the
 * expiry, so changing any of them (or the signature) makes the link invalid; the file name in
 * the path is cosmetic (for browsers) and checked against the artifact.
 */
export class LinkSigner {
  private key: Promise<Buffer> | null = null;

  constructor(private readonly config: Config) {}

  path(link: SignedLink, fileName: string, signature: string): string {
    return `/v1/downloads/${link.linkId}/${link.artifactId}/${encodeURIComponent(fileName)}?expires=${link.expires}&signature=${signature}`;
  }

  async sign(link: SignedLink): Promise<string> {
    return crypto.createHmac('sha256', await this.loadKey()).update(`${link.linkId}.${link.artifactId}.${link.expires}`).digest('base64url');
  }

  /** Constant-time comparison of a presented signature with the one `link` should carry. */
  async matches(link: SignedLink, presented: string): Promise<boolean> {
    const expected = Buffer.from(await this.sign(link));
    const given = Buffer.from(presented);
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  }

  private loadKey(): Promise<Buffer> {
    this.key ??= this.readOrGenerate().catch((err) => {
      this.key = null;
      throw err;
    });
    return this.key;
  }

  private async readOrGenerate(): Promise<Buffer> {
    const derive = (material: string) => Buffer.from(crypto.hkdfSync('sha256', Buffer.from(material, 'utf8'), Buffer.from('ehub'), Buffer.from(HKDF_INFO), 32));
    if (this.config.EHUB_SECRET_KEY) return derive(this.config.EHUB_SECRET_KEY);
    const file = path.join(this.config.dataDir, KEY_FILE);
    try {
      return derive((await fs.readFile(file, 'utf8')).trim());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await fs.mkdir(this.config.dataDir, { recursive: true });
    const material = crypto.randomBytes(32).toString('base64');
    const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, `${material}\n`, { mode: 0o600 });
    try {
      // link() fails when another process won the race: then its key is the key.
      await fs.link(tmp, file);
      return derive(material);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return derive((await fs.readFile(file, 'utf8')).trim());
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }
}

/** A single `Range: bytes=` request against a file of `size` bytes. */
export type RangeAnswer = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Parses a Range header (RFC 9110 §14): one range, `a-b`, `a-` or `-n`. Several ranges or a
 * header in another unit are ignored (the whole file is sent), as the RFC allows; a range
 * that starts past the end is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (!header) return { kind: 'full' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return header.trim().startsWith('bytes=') && !header.includes(',') ? { kind: 'unsatisfiable' } : { kind: 'full' };
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}
