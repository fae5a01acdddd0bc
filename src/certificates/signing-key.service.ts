import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { conflict } from '../common/errors';
import type { Db, Tx } from '../db/db';
import type { Jwk } from './certificate.verify';
import { generateSigningKey, parseSigningKey, privateKeyPem, type SigningKeyPair } from './signing-key.crypto';

/** A key as `GET /.well-known/jwks.json` serves it. */
export interface PublishedJwk extends Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  use: 'sig';
  alg: 'EdDSA';
}

export interface JwksDocument {
  keys: PublishedJwk[];
}

export interface RotatedSigningKey {
  kid: string;
  previousKid: string | null;
  file: string;
}

const KID = /^[A-Za-z0-9_-]{16}$/;
// Serialises rotations across processes (two `ehub keys rotate-signing` at once).
const ROTATION_LOCK = 'ehub:signing-key-rotation';

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Certificate signing keys. The private key comes from EHUB_SIGNING_KEY, or from the data
 * directory (`<EHUB_DATA_DIR>/signing-keys/<kid>.pem`, with `current` naming the key in
 * use), generated there on first use. The public half of every key is stored in
 * `signing_key`, so the JWKS is the same on every instance and survives rotations.
 *
 * The current key is cached for `refreshMs` (30 s): after `ehub keys rotate-signing` a
 * running hub sharing the data directory signs with the new key within that time.
 */
export class SigningKeyService {
  refreshMs = 30_000;
  private cached: { pair: SigningKeyPair; checkedAt: number } | null = null;
  private loading: Promise<SigningKeyPair> | null = null;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {}

  /** Where generated keys live. */
  get directory(): string {
    return path.join(this.config.dataDir, 'signing-keys');
  }

  /** True when EHUB_SIGNING_KEY supplies the key (rotation then happens outside the hub). */
  get external(): boolean {
    return Boolean(this.config.EHUB_SIGNING_KEY);
  }

  /** The key to sign with now: loaded, or generated on first use, and published. */
  async current(ctx: RequestContext): Promise<SigningKeyPair> {
    const c = this.cached;
    if (c && (this.external || Date.now() - c.checkedAt < this.refreshMs)) return c.pair;
    this.loading ??= this.load(ctx).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /** Every published key, the current one first, then newest first. */
  async jwks(ctx: RequestContext): Promise<JwksDocument> {
    return this.published((await this.current(ctx)).kid);
  }

  /** The keys stored in `signing_key`, as a JWKS, without loading or generating a private key. */
  async published(currentKid: string | null = null): Promise<JwksDocument> {
    const rows: { kid: string; public_jwk: Jwk }[] = await this.db.manager.query(
      `SELECT kid, public_jwk FROM signing_key
        ORDER BY kid = $1 DESC, retired_at IS NULL DESC, created_at DESC, kid`,
      [currentKid],
    );
    return {
      keys: rows.map((r) => ({ kty: 'OKP', crv: 'Ed25519', x: String(r.public_jwk.x), kid: r.kid, use: 'sig', alg: 'EdDSA' })),
    };
  }

  /**
   * Generates a new key into the data directory, publishes it, retires the previous one
   * (still served in the JWKS, so its certificates keep verifying) and makes it current.
   * Refused when EHUB_SIGNING_KEY is set: that key is managed outside the hub.
   */
  async rotate(ctx: RequestContext): Promise<RotatedSigningKey> {
    if (this.external) {
      throw conflict(
        'CERTIFICATE_SIGNING_KEY_EXTERNAL',
        'EHUB_SIGNING_KEY is set, so the signing key is managed outside the hub: rotate it by setting EHUB_SIGNING_KEY to a new Ed25519 key and restarting (old certificates stay verifiable: every key used is kept in the JWKS)',
      );
    }
    const pair = generateSigningKey();
    const file = await this.writeKeyFile(pair);
    const previousKid = await this.db.tx(ctx, async (tx) => {
      await tx.manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [ROTATION_LOCK]);
      const previous = await this.readCurrentKid();
      await this.publishIn(tx, pair);
      // The file is switched before commit, under the lock; were the commit to fail, the
      // next load publishes the key anyway (load always publishes a newly seen kid).
      await this.writeCurrentKid(pair.kid);
      return previous;
    });
    this.cached = { pair, checkedAt: Date.now() };
    ctx.log.info({ kid: pair.kid, previousKid, file }, 'certificate signing key rotated');
    return { kid: pair.kid, previousKid, file };
  }

  private async load(ctx: RequestContext): Promise<SigningKeyPair> {
    const pair = this.external ? parseSigningKey(this.config.EHUB_SIGNING_KEY!) : await this.loadFromDirectory(ctx);
    if (pair.kid !== this.cached?.pair.kid) await this.db.tx(ctx, (tx) => this.publishIn(tx, pair));
    this.cached = { pair, checkedAt: Date.now() };
    return pair;
  }

  private async loadFromDirectory(ctx: RequestContext): Promise<SigningKeyPair> {
    const kid = await this.readCurrentKid();
    if (kid) return kid === this.cached?.pair.kid ? this.cached.pair : this.readKeyFile(kid);
    // First start: generate. Creating `current` exclusively settles two processes racing.
    const pair = generateSigningKey();
    const file = await this.writeKeyFile(pair);
    try {
      await fs.writeFile(this.currentFile, `${pair.kid}\n`, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await fs.rm(file, { force: true });
      return this.readKeyFile((await this.readCurrentKid())!);
    }
    ctx.log.warn({ kid: pair.kid, file }, `no certificate signing key existed: one was generated into ${file} (back it up, or set EHUB_SIGNING_KEY)`);
    return pair;
  }

  /** Stores the public key if new; a new key is the current one, so the others are retired. */
  private async publishIn(tx: Tx, pair: SigningKeyPair): Promise<void> {
    const m: EntityManager = tx.manager;
    const inserted: { kid: string }[] = await m.query(
      `INSERT INTO signing_key (kid, public_jwk) VALUES ($1, $2) ON CONFLICT (kid) DO NOTHING RETURNING kid`,
      [pair.kid, pair.publicJwk],
    );
    if (inserted.length === 0) return;
    tx.audit({ entity: 'SigningKey', entityId: pair.kid, action: 'CREATE', after: { kid: pair.kid, publicJwk: pair.publicJwk } });
    const [retired]: [{ kid: string; retired_at: Date }[], number] = await m.query(
      `UPDATE signing_key SET retired_at = now() WHERE kid <> $1 AND retired_at IS NULL RETURNING kid, retired_at`,
      [pair.kid],
    );
    for (const r of retired) {
      tx.audit({ entity: 'SigningKey', entityId: r.kid, action: 'RETIRE', before: { retiredAt: null }, after: { retiredAt: r.retired_at, replacedBy: pair.kid } });
    }
  }

  private get currentFile(): string {
    return path.join(this.directory, 'current');
  }

  private keyFile(kid: string): string {
    return path.join(this.directory, `${kid}.pem`);
  }

  private async readCurrentKid(): Promise<string | null> {
    let text: string;
    try {
      text = await fs.readFile(this.currentFile, 'utf8');
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    const kid = text.trim();
    if (!KID.test(kid)) throw new Error(`${this.currentFile} should hold the kid of the current signing key, not ${JSON.stringify(kid.slice(0, 40))}`);
    return kid;
  }

  private async readKeyFile(kid: string): Promise<SigningKeyPair> {
    const file = this.keyFile(kid);
    let pem: string;
    try {
      pem = await fs.readFile(file, 'utf8');
    } catch (err) {
      if (isMissing(err)) throw new Error(`The current certificate signing key ${kid} is missing: ${file} does not exist`);
      throw err;
    }
    const pair = parseSigningKey(pem, file);
    if (pair.kid !== kid) throw new Error(`${file} holds key ${pair.kid}, not ${kid}: the signing-keys directory was altered`);
    return pair;
  }

  private async writeKeyFile(pair: SigningKeyPair): Promise<string> {
    await fs.mkdir(this.directory, { recursive: true, mode: 0o700 });
    const file = this.keyFile(pair.kid);
    await fs.writeFile(file, privateKeyPem(pair.privateKey), { flag: 'wx', mode: 0o600 });
    return file;
  }

  /** Replaces `current` atomically (write a temporary file, rename it over). */
  private async writeCurrentKid(kid: string): Promise<void> {
    const tmp = `${this.currentFile}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, `${kid}\n`, { mode: 0o600 });
    await fs.rename(tmp, this.currentFile);
  }
}
