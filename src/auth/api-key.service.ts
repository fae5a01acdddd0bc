import crypto from 'node:crypto';
import { AppError, badInput, forbidden, notFound } from '../common/errors';
import type { Principal, RequestContext } from '../common/context';
import { paginate, type Connection, type PageArgs } from '../common/pagination';
import type { Db } from '../db/db';
import { ApiKey } from './api-key.entity';
import { Role } from './role';

const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const KEY_PATTERN = /^ehub_([a-z0-9]{8})_([A-Za-z0-9]{20,128})$/;
/** How long a verified key is trusted from memory; a revocation reaches other instances within this. */
const CACHE_TTL_MS = 10_000;

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[crypto.randomInt(alphabet.length)];
  return out;
}

export function generateKey(): { key: string; prefix: string; secret: string } {
  const prefix = randomString(PREFIX_ALPHABET, 8);
  const secret = randomString(SECRET_ALPHABET, 40); // ~238 bits
  return { key: `ehub_${prefix}_${secret}`, prefix, secret };
}

export function parseKey(key: string): { prefix: string; secret: string } | null {
  const m = KEY_PATTERN.exec(key);
  return m ? { prefix: m[1]!, secret: m[2]! } : null;
}

/** SHA-256 is enough here: the secrets are long random strings, not passwords. */
export function hashSecret(secret: string): Buffer {
  // The one-shot crypto.hash: no Hash object per call (every authenticated request hashes its key).
  return crypto.hash('sha256', secret, 'buffer');
}

export interface CreateApiKeyParams {
  name: string;
  role: Role;
  accountId?: string | null;
  /** When the key stops working; null or absent: never. Must be a valid instant in the future. */
  expiresAt?: Date | null;
}

interface CachedKey {
  id: string;
  name: string;
  role: Role;
  accountId: string | null;
  secretHash: Buffer;
  revoked: boolean;
  /** The key's own expiry (ms since epoch), or null: checked against now on every call. */
  keyExpiresAt: number | null;
  /** When this cache entry must be read again from the database. */
  expires: number;
}

export class ApiKeyService {
  private cache = new Map<string, CachedKey>();
  /** keyId → last use, flushed to the database in one statement (no write per request). */
  private pendingLastUsed = new Map<string, Date>();

  constructor(private readonly db: Db) {}

  /** Resolves a bearer key to its principal, or throws UNAUTHENTICATED. */
  async authenticate(key: string): Promise<Principal> {
    const parsed = parseKey(key);
    if (!parsed) throw new AppError('UNAUTHENTICATED', 'AUTH_KEY_MALFORMED', 'The API key is malformed: expected ehub_<prefix>_<secret>');
    const now = Date.now();
    let entry = this.cache.get(parsed.prefix);
    if (!entry || entry.expires < now) {
      let row: ApiKey | null | undefined;
      try {
        row = await this.db.manager
          .createQueryBuilder(ApiKey, 'k')
          .addSelect('k.secretHash')
          .where('k.prefix = :prefix', { prefix: parsed.prefix })
          .getOne();
      } catch (err) {
        // The database is away: a key seen before stays good (stale) until it answers again, so
        // ingest through the usage stream (ADR 0049) keeps taking usage during an outage.
        if (!entry) throw err;
        row = undefined;
      }
      if (row === null) throw new AppError('UNAUTHENTICATED', 'AUTH_KEY_UNKNOWN', 'The API key is not valid');
      if (row) {
        entry = {
          id: row.id,
          name: row.name,
          role: row.role,
          accountId: row.accountId,
          secretHash: row.secretHash,
          revoked: row.revokedAt !== null,
          keyExpiresAt: row.expiresAt?.getTime() ?? null,
          expires: now + CACHE_TTL_MS,
        };
        this.cache.set(parsed.prefix, entry);
      }
    }
    if (!entry) throw new AppError('UNAUTHENTICATED', 'AUTH_KEY_UNKNOWN', 'The API key is not valid');
    const presented = hashSecret(parsed.secret);
    if (presented.length !== entry.secretHash.length || !crypto.timingSafeEqual(presented, entry.secretHash)) {
      throw new AppError('UNAUTHENTICATED', 'AUTH_KEY_UNKNOWN', 'The API key is not valid');
    }
    if (entry.revoked) throw new AppError('UNAUTHENTICATED', 'AUTH_KEY_REVOKED', 'The API key has been revoked');
    // Compared on every call, not when the entry is cached: a cached key must not outlive its expiry.
    if (entry.keyExpiresAt !== null && entry.keyExpiresAt <= now) {
      const expiredAt = new Date(entry.keyExpiresAt).toISOString();
      throw new AppError('UNAUTHENTICATED', 'AUTH_KEY_EXPIRED', `The API key expired at ${expiredAt}; create a new one`, { expiredAt });
    }
    this.pendingLastUsed.set(entry.id, new Date(now));
    return { keyId: entry.id, name: entry.name, role: entry.role, accountId: entry.accountId };
  }

  /** Writes the batched `lastUsedAt` values; called by a timer and at shutdown. */
  async flushLastUsed(): Promise<number> {
    if (this.pendingLastUsed.size === 0) return 0;
    const batch = [...this.pendingLastUsed.entries()];
    this.pendingLastUsed.clear();
    await this.db.manager.query(
      `UPDATE api_key k SET last_used_at = GREATEST(COALESCE(k.last_used_at, v.t), v.t)
         FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, t) WHERE k.id = v.id`,
      [batch.map(([id]) => id), batch.map(([, t]) => t.toISOString())],
    );
    return batch.length;
  }

  async create(ctx: RequestContext, params: CreateApiKeyParams): Promise<{ key: string; apiKey: ApiKey }> {
    const name = params.name.trim();
    if (!name) throw badInput('API_KEY_NAME_REQUIRED', 'A key needs a name', [{ path: 'input.name', message: 'must not be empty' }]);
    const expiresAt = params.expiresAt ?? null;
    if (expiresAt !== null) {
      if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) {
        throw badInput('API_KEY_EXPIRY_INVALID', 'expiresAt is not a valid instant', [{ path: 'input.expiresAt', message: 'must be an ISO 8601 date-time' }]);
      }
      if (expiresAt.getTime() <= Date.now()) {
        throw badInput('API_KEY_EXPIRY_IN_PAST', `expiresAt ${expiresAt.toISOString()} is not in the future`, [
          { path: 'input.expiresAt', message: 'must be in the future' },
        ]);
      }
    }
    let accountId = params.accountId ?? null;
    const scope = ctx.principal?.accountId ?? null;
    if (scope) {
      // A scoped admin may only mint keys for its own account.
      if (accountId && accountId !== scope) throw notFound('Account', accountId);
      accountId = scope;
    }
    const generated = generateKey();
    return this.db.tx(ctx, async (tx) => {
      if (accountId) {
        const exists = await tx.manager.query('SELECT 1 FROM account WHERE id = $1', [accountId]);
        if (exists.length === 0) throw notFound('Account', accountId);
      }
      const row = tx.manager.create(ApiKey, {
        name,
        role: params.role,
        accountId,
        expiresAt,
        prefix: generated.prefix,
        secretHash: hashSecret(generated.secret),
        createdByKeyId: ctx.principal?.keyId ?? null,
      });
      const saved = await tx.manager.save(row);
      tx.audit({ entity: 'ApiKey', entityId: saved.id, action: 'CREATE', after: saved });
      return { key: generated.key, apiKey: saved };
    });
  }

  async list(ctx: RequestContext, args: PageArgs, includeRevoked = false): Promise<Connection<ApiKey>> {
    const qb = this.db.manager.createQueryBuilder(ApiKey, 'k');
    if (!includeRevoked) qb.andWhere('k.revokedAt IS NULL');
    if (ctx.principal?.accountId) qb.andWhere('k.accountId = :scope', { scope: ctx.principal.accountId });
    const page = await paginate(qb, 'k', args);
    for (const edge of page.edges) {
      const pending = this.pendingLastUsed.get(edge.node.id);
      if (pending) edge.node.lastUsedAt = pending;
    }
    return page;
  }

  async revoke(ctx: RequestContext, id: string): Promise<ApiKey> {
    const result = await this.db.tx(ctx, async (tx) => {
      const qb = tx.manager.createQueryBuilder(ApiKey, 'k').setLock('pessimistic_write').where('k.id = :id', { id });
      if (ctx.principal?.accountId) qb.andWhere('k.accountId = :scope', { scope: ctx.principal.accountId });
      const row = await qb.getOne();
      if (!row) throw notFound('ApiKey', id);
      if (row.revokedAt) return row;
      if (ctx.principal?.keyId === id) throw forbidden('API_KEY_SELF_REVOKE', 'A key cannot revoke itself; use another admin key');
      const before = { ...row };
      row.revokedAt = new Date();
      await tx.manager.save(row);
      tx.audit({ entity: 'ApiKey', entityId: id, action: 'REVOKE', before, after: row });
      return row;
    });
    this.cache.delete(result.prefix);
    return result;
  }

  /** Finds a key by id or prefix (for the CLI). */
  async findByIdOrPrefix(idOrPrefix: string): Promise<ApiKey | null> {
    const uuid = /^[0-9a-f-]{36}$/i.test(idOrPrefix);
    return this.db.manager.findOne(ApiKey, { where: uuid ? { id: idOrPrefix } : { prefix: idOrPrefix } });
  }

  /**
   * Makes sure the key given in EHUB_ADMIN_KEY exists as an ADMIN key. The environment is
   * authoritative for its secret; a key revoked through the API stays revoked.
   */
  async ensureBootstrapAdmin(ctx: RequestContext, key: string): Promise<ApiKey> {
    const parsed = parseKey(key);
    if (!parsed) throw new Error('EHUB_ADMIN_KEY is malformed: expected ehub_<8 chars a-z0-9>_<secret of 20+ letters and digits>');
    return this.db.tx(ctx, async (tx) => {
      const existing = await tx.manager
        .createQueryBuilder(ApiKey, 'k')
        .addSelect('k.secretHash')
        .where('k.prefix = :p', { p: parsed.prefix })
        .getOne();
      const secretHash = hashSecret(parsed.secret);
      if (existing) {
        // The bootstrap key never expires: an expiry set on its row some other way is cleared.
        if (!existing.secretHash.equals(secretHash) || existing.role !== Role.ADMIN || existing.accountId || existing.expiresAt) {
          const before = { ...existing };
          Object.assign(existing, { secretHash, role: Role.ADMIN, accountId: null, expiresAt: null });
          await tx.manager.save(existing);
          tx.audit({ entity: 'ApiKey', entityId: existing.id, action: 'UPDATE', before, after: existing });
        }
        return existing;
      }
      const saved = await tx.manager.save(
        tx.manager.create(ApiKey, { name: 'bootstrap admin (EHUB_ADMIN_KEY)', role: Role.ADMIN, prefix: parsed.prefix, secretHash, accountId: null, expiresAt: null }),
      );
      tx.audit({ entity: 'ApiKey', entityId: saved.id, action: 'CREATE', after: saved });
      return saved;
    });
  }

  async count(): Promise<number> {
    return this.db.manager.count(ApiKey);
  }
}
