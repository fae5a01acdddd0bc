import { createHash } from 'node:crypto';
import pino from 'pino';
import { startTestHub, gqlError, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { bootstrapAdmin } from '../../src/server/hub';
import { createServices } from '../../src/server/services';
import { loadConfig } from '../../src/config';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const CREATE = `mutation Create($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { id prefix role name accountId lastUsedAt revokedAt expiresAt } }
}`;

type Created = {
  createApiKey: { key: string; apiKey: { id: string; prefix: string; role: string; lastUsedAt: string | null; expiresAt: string | null } };
};

describe('API keys', () => {
  it('creates a key shown once, stored only as a SHA-256 hash, that then authenticates', async () => {
    const data = await hub.ok<Created>(CREATE, { input: { name: 'ci robot', role: 'INTEGRATION' } });
    const { key, apiKey } = data.createApiKey;
    expect(key).toMatch(/^ehub_[a-z0-9]{8}_[A-Za-z0-9]{40}$/);
    expect(key.split('_')[1]).toBe(apiKey.prefix);
    expect(apiKey.role).toBe('INTEGRATION');

    const [row] = await hub.ds.query('SELECT secret_hash, prefix FROM api_key WHERE id = $1', [apiKey.id]);
    const secret = key.split('_')[2]!;
    expect(Buffer.compare(row.secret_hash, createHash('sha256').update(secret).digest())).toBe(0);
    const dump = JSON.stringify(await hub.ds.query('SELECT * FROM api_key'));
    expect(dump).not.toContain(secret);

    const me = await hub.ok<{ me: { id: string; role: string } }>('{ me { id role } }', {}, key);
    expect(me.me).toEqual({ id: apiKey.id, role: 'INTEGRATION' });
  });

  it('rejects a key whose secret is wrong even when the prefix exists', async () => {
    const { createApiKey } = await hub.ok<Created>(CREATE, { input: { name: 'p', role: 'READONLY' } });
    const forged = `ehub_${createApiKey.apiKey.prefix}_${'A'.repeat(40)}`;
    const res = await hub.gql('{ me { id } }', {}, forged);
    expect(res.status).toBe(401);
    expect(gqlError(res).subCode).toBe('AUTH_KEY_UNKNOWN');
  });

  it('revokes a key: refused at once, listed only with includeRevoked', async () => {
    const { createApiKey } = await hub.ok<Created>(CREATE, { input: { name: 'to revoke', role: 'ANALYST' } });
    expect((await hub.gql('{ me { id } }', {}, createApiKey.key)).errors).toBeUndefined();
    const revoked = await hub.ok<{ revokeApiKey: { revokedAt: string } }>('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', {
      id: createApiKey.apiKey.id,
    });
    expect(revoked.revokeApiKey.revokedAt).toBeTruthy();
    // Revoking twice is idempotent.
    const again = await hub.ok<{ revokeApiKey: { revokedAt: string } }>('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', {
      id: createApiKey.apiKey.id,
    });
    expect(again.revokeApiKey.revokedAt).toBe(revoked.revokeApiKey.revokedAt);
    const res = await hub.gql('{ me { id } }', {}, createApiKey.key);
    expect(gqlError(res)).toMatchObject({ code: 'UNAUTHENTICATED', subCode: 'AUTH_KEY_REVOKED' });

    const list = await hub.ok<{ apiKeys: { edges: { node: { id: string } }[] } }>('{ apiKeys(first: 500) { edges { node { id } } } }');
    expect(list.apiKeys.edges.map((e) => e.node.id)).not.toContain(createApiKey.apiKey.id);
    const all = await hub.ok<{ apiKeys: { edges: { node: { id: string } }[] } }>(
      '{ apiKeys(first: 500, includeRevoked: true) { edges { node { id } } } }',
    );
    expect(all.apiKeys.edges.map((e) => e.node.id)).toContain(createApiKey.apiKey.id);
  });

  it('a key cannot revoke itself', async () => {
    const me = await hub.ok<{ me: { id: string } }>('{ me { id } }');
    const res = await hub.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: me.me.id });
    expect(gqlError(res)).toMatchObject({ code: 'FORBIDDEN', subCode: 'API_KEY_SELF_REVOKE' });
  });

  it('only ADMIN manages keys', async () => {
    for (const role of [Role.OPERATIONS, Role.FINANCE, Role.ANALYST, Role.INTEGRATION, Role.READONLY]) {
      const key = await hub.createKey(role);
      expect(gqlError(await hub.gql(CREATE, { input: { name: 'x', role: 'ADMIN' } }, key)).code).toBe('FORBIDDEN');
      expect(gqlError(await hub.gql('{ apiKeys { totalCount } }', {}, key)).code).toBe('FORBIDDEN');
    }
  });

  it('validates input: empty name and unknown role are BAD_USER_INPUT', async () => {
    const empty = await hub.gql(CREATE, { input: { name: '', role: 'ADMIN' } });
    expect(gqlError(empty).code).toBe('BAD_USER_INPUT');
    expect(gqlError(empty).fields).toEqual([expect.objectContaining({ path: 'input.name' })]);
    const role = await hub.gql(CREATE, { input: { name: 'x', role: 'ROOT' } });
    expect(gqlError(role).code).toBe('BAD_USER_INPUT');
    const inline = await hub.gql('mutation { createApiKey(input: { name: "x", role: ROOT }) { key } }');
    expect(gqlError(inline).code).toBe('BAD_USER_INPUT');
    const missing = await hub.gql('mutation { createApiKey(input: { name: "x" }) { key } }');
    expect(gqlError(missing).code).toBe('BAD_USER_INPUT');
  });

  it('tracks lastUsedAt without a write per request', async () => {
    const { createApiKey } = await hub.ok<Created>(CREATE, { input: { name: 'usage', role: 'READONLY' } });
    await hub.services.apiKeys.flushLastUsed();
    for (let i = 0; i < 5; i++) await hub.ok('{ hub { version } }', {}, createApiKey.key);
    const [stored] = await hub.ds.query('SELECT last_used_at FROM api_key WHERE id = $1', [createApiKey.apiKey.id]);
    expect(stored.last_used_at).toBeNull(); // nothing written on the request path
    // ...but the API already shows it, from memory.
    const listed = await hub.ok<{ apiKeys: { edges: { node: { id: string; lastUsedAt: string | null } }[] } }>(
      '{ apiKeys(first: 500) { edges { node { id lastUsedAt } } } }',
    );
    expect(listed.apiKeys.edges.find((e) => e.node.id === createApiKey.apiKey.id)?.node.lastUsedAt).toBeTruthy();
    expect(await hub.services.apiKeys.flushLastUsed()).toBeGreaterThan(0);
    const [flushed] = await hub.ds.query('SELECT last_used_at FROM api_key WHERE id = $1', [createApiKey.apiKey.id]);
    expect(flushed.last_used_at).toBeInstanceOf(Date);
  });

  it('EHUB_ADMIN_KEY bootstraps an admin key, idempotently', async () => {
    const key = `ehub_boot1234_${'Z'.repeat(32)}`;
    const config = loadConfig({ DATABASE_URL: hub.databaseUrl, EHUB_ADMIN_KEY: key, NODE_ENV: 'test' });
    const services = createServices(hub.services.db, config);
    const log = pino({ level: 'silent' });
    await bootstrapAdmin(services, log);
    await bootstrapAdmin(services, log);
    const rows = await hub.ds.query(`SELECT role, expires_at FROM api_key WHERE prefix = 'boot1234'`);
    expect(rows).toEqual([{ role: 'ADMIN', expires_at: null }]);
    // The bootstrap key never expires: an expiry put on its row is cleared at the next start.
    await hub.ds.query(`UPDATE api_key SET expires_at = now() - interval '1 day' WHERE prefix = 'boot1234'`);
    await bootstrapAdmin(services, log);
    expect(await hub.ds.query(`SELECT expires_at FROM api_key WHERE prefix = 'boot1234'`)).toEqual([{ expires_at: null }]);
    const me = await hub.ok<{ me: { role: string } }>('{ me { role } }', {}, key);
    expect(me.me.role).toBe('ADMIN');
  });

  it('refuses a malformed EHUB_ADMIN_KEY at configuration time', () => {
    expect(() => loadConfig({ EHUB_ADMIN_KEY: 'admin' })).toThrow(/EHUB_ADMIN_KEY/);
  });
});

describe('API key expiry', () => {
  const counts = async () =>
    (await hub.ds.query('SELECT (SELECT count(*) FROM api_key)::int AS keys, (SELECT count(*) FROM audit_log)::int AS audit'))[0];

  it('a key works until its expiresAt, then answers AUTH_KEY_EXPIRED even while it is cached', async () => {
    const expiresAt = new Date(Date.now() + 2000).toISOString();
    const { createApiKey } = await hub.ok<Created>(CREATE, { input: { name: 'short-lived', role: 'READONLY', expiresAt } });
    expect(createApiKey.apiKey.expiresAt).toBe(expiresAt);
    const me = await hub.ok<{ me: { id: string; expiresAt: string } }>('{ me { id expiresAt } }', {}, createApiKey.key); // fills the cache
    expect(me.me).toEqual({ id: createApiKey.apiKey.id, expiresAt });

    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expiresAt) - Date.now()) + 50));
    // The cache entry (10 s) is still fresh: the refusal comes without reading the database.
    const { result: res, count } = await hub.countQueries(() => hub.gql('{ me { id } }', {}, createApiKey.key));
    expect(count).toBe(0);
    expect(res.status).toBe(401);
    expect(gqlError(res)).toMatchObject({ code: 'UNAUTHENTICATED', subCode: 'AUTH_KEY_EXPIRED', message: expect.stringContaining(`expired at ${expiresAt}`) });
    expect(res.errors![0]!.extensions!.expiredAt).toBe(expiresAt);
  });

  it('an expiry already past when the key is read answers AUTH_KEY_EXPIRED, on the HTTP routes too', async () => {
    const { createApiKey } = await hub.ok<Created>(CREATE, {
      input: { name: 'lapsed', role: 'ADMIN', expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
    });
    await hub.ds.query(`UPDATE api_key SET expires_at = '2025-01-01T00:00:00Z' WHERE id = $1`, [createApiKey.apiKey.id]);
    const gql = await hub.gql('{ hub { version } }', {}, createApiKey.key);
    expect(gql.status).toBe(401);
    expect(gqlError(gql)).toMatchObject({ code: 'UNAUTHENTICATED', subCode: 'AUTH_KEY_EXPIRED', message: expect.stringContaining('2025-01-01T00:00:00.000Z') });

    const auth = { authorization: `Bearer ${createApiKey.key}` };
    const usage = await fetch(`${hub.url}/v1/usage`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: '' });
    const exp = await fetch(`${hub.url}/v1/exports/journal-entries.csv?from=2026-01&to=2026-02`, { headers: auth });
    for (const res of [usage, exp]) {
      expect(res.status).toBe(401);
      const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors[0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED', subCode: 'AUTH_KEY_EXPIRED', expiredAt: '2025-01-01T00:00:00.000Z' });
      expect(body.errors[0]!.message).toContain('expired at 2025-01-01T00:00:00.000Z');
    }
  });

  it('refuses an expiresAt in the past or not a valid instant, and writes nothing', async () => {
    const before = await counts();
    const past = await hub.gql(CREATE, { input: { name: 'x', role: 'READONLY', expiresAt: '2020-01-01T00:00:00Z' } });
    expect(gqlError(past)).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'API_KEY_EXPIRY_IN_PAST', fields: [expect.objectContaining({ path: 'input.expiresAt' })] });
    for (const bad of ['next week', '2027-02-30T00:00:00Z']) {
      const res = await hub.gql(CREATE, { input: { name: 'x', role: 'READONLY', expiresAt: bad } });
      expect(gqlError(res)).toMatchObject({ code: 'BAD_USER_INPUT', fields: [expect.objectContaining({ path: 'input.expiresAt' })] });
    }
    expect(await counts()).toEqual(before);
  });
});

describe('audit log', () => {
  it('records who created a key, with the request id, and never the secret', async () => {
    const res = await hub.gql<Created>(CREATE, { input: { name: 'audited', role: 'FINANCE' } });
    const requestId = res.headers.get('x-request-id');
    const id = res.data!.createApiKey.apiKey.id;
    const log = await hub.ok<{ auditLog: { edges: { node: Record<string, unknown> }[] } }>(
      `query($f: AuditFilterInput) { auditLog(filter: $f) { edges { node { keyId operation entity entityId action before after requestId } } } }`,
      { f: { entityId: id } },
    );
    expect(log.auditLog.edges).toHaveLength(1);
    const row = log.auditLog.edges[0]!.node;
    const me = await hub.ok<{ me: { id: string } }>('{ me { id } }');
    expect(row).toMatchObject({ keyId: me.me.id, operation: 'createApiKey', entity: 'ApiKey', entityId: id, action: 'CREATE', before: null, requestId });
    expect(row.after).toMatchObject({ name: 'audited', role: 'FINANCE' });
    expect(JSON.stringify(row.after)).not.toMatch(/secret/i);
    expect(JSON.stringify(row.after)).not.toContain(res.data!.createApiKey.key.split('_')[2]);
  });

  it('is readable by ADMIN only', async () => {
    const key = await hub.createKey(Role.ANALYST);
    expect(gqlError(await hub.gql('{ auditLog { totalCount } }', {}, key)).code).toBe('FORBIDDEN');
  });

  it('a failed mutation writes nothing, not even an audit row', async () => {
    const before = (await hub.ds.query('SELECT count(*)::int AS n FROM audit_log'))[0].n;
    await hub.gql(CREATE, { input: { name: 'x', role: 'ADMIN', accountId: '00000000-0000-4000-8000-000000000000' } });
    const after = (await hub.ds.query('SELECT count(*)::int AS n FROM audit_log'))[0].n;
    expect(after).toBe(before);
  });
});
