for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];

import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { startSalesforceEmulator, type SalesforceEmulator } from './emulator';
import { salesforceConnector } from './index';
import { connectorError, connectTo, pullAll, quietCtx } from './spec-helpers';

describe('salesforce connector: authentication', () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let emu: SalesforceEmulator;

  beforeAll(async () => {
    emu = await startSalesforceEmulator({
      clients: [
        { clientId: 'emulator-client', clientSecret: 'emulator-secret', username: 'integration@example.com' },
        { clientId: 'jwt-app', clientSecret: 'unused', jwtPublicKeyPem: publicKeyPem },
      ],
      users: [
        { username: 'integration@example.com', password: 'password' },
        { username: 'pw-user@example.com', password: 'secretTOKEN123' },
      ],
    });
    emu.insert('Account', { Name: 'Acme', Website: 'https://www.acme.com' });
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.faults.clear();
  });

  it('client credentials: health check authenticates and reads /limits; calls match the emulator count', async () => {
    emu.resetStats();
    const c = connectTo(emu);
    const report = await c.healthCheck(quietCtx);
    expect(report.ok).toBe(true);
    expect(report.message).toContain(`Authenticated to ${emu.url}`);
    expect(report.message).toContain('API v62.0');
    expect(report.apiUsage).not.toBeNull();
    expect(emu.stats.tokenRequests).toBe(1);
    expect(c.stats().apiCalls).toBe(emu.stats.apiCalls);
    expect(c.stats().apiCalls).toBe(2);
    await c.close();
  });

  it('username-password grant (OAuth, password + security token)', async () => {
    const c = connectTo(
      emu,
      { auth: 'password', username: 'pw-user@example.com' },
      { clientSecret: 'emulator-secret', password: 'secret', securityToken: 'TOKEN123' },
    );
    const pages = await pullAll(c, 'accounts');
    expect(pages.flatMap((p) => p.records).map((a) => a.domain)).toContain('acme.com');
    const wrong = connectTo(emu, { auth: 'password', username: 'pw-user@example.com' }, { clientSecret: 'emulator-secret', password: 'secret' });
    const err = await connectorError(pullAll(wrong, 'accounts'));
    expect(err).toMatchObject({ kind: 'AUTH', code: 'invalid_grant' });
  });

  it('JWT bearer grant signs an RS256 assertion the org verifies', async () => {
    const config = {
      options: { loginUrl: emu.url, auth: 'jwt_bearer', clientId: 'jwt-app', username: 'pw-user@example.com' },
      credentials: { privateKey: privateKeyPem },
    };
    expect(salesforceConnector.validate(config)).toEqual([]);
    const c = salesforceConnector.create(config);
    expect((await c.healthCheck(quietCtx)).ok).toBe(true);

    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged = salesforceConnector.create({ ...config, credentials: { privateKey: other } });
    const report = await forged.healthCheck(quietCtx);
    expect(report.ok).toBe(false);
    expect(report.message).toMatch(/auth/i);
  });

  it('a refused client secret is AUTH (and the health check says so without throwing)', async () => {
    const c = connectTo(emu, {}, { clientSecret: 'wrong' });
    const report = await c.healthCheck(quietCtx);
    expect(report).toMatchObject({ ok: false });
    expect(report.message).toContain('invalid_client');
    expect(await connectorError(pullAll(c, 'accounts'))).toMatchObject({ kind: 'AUTH', code: 'invalid_client', retryable: false });
  });

  it('an expired session is renewed once by re-running the grant and the call replayed', async () => {
    const c = connectTo(emu);
    await pullAll(c, 'accounts');
    emu.resetStats();
    emu.faults.expireSessions();
    const pages = await pullAll(c, 'accounts');
    expect(pages.flatMap((p) => p.records).length).toBeGreaterThan(0);
    expect(emu.stats.tokenRequests).toBe(1);
    // the refused call, the token request, the replay
    expect(emu.stats.apiCalls).toBe(3);
  });

  it('a session refused again right after the refresh is AUTH; the next call starts afresh', async () => {
    const c = connectTo(emu);
    await pullAll(c, 'accounts');
    emu.resetStats();
    const before = c.stats().apiCalls;
    emu.faults.queue('EXPIRE_SESSION', 'EXPIRE_SESSION');
    const err = await connectorError(pullAll(c, 'accounts'));
    expect(err).toMatchObject({ kind: 'AUTH', code: 'INVALID_SESSION_ID' });
    expect(emu.stats.tokenRequests).toBe(1);
    expect(c.stats().apiCalls - before).toBe(emu.stats.apiCalls);
    expect((await pullAll(c, 'accounts')).length).toBeGreaterThan(0);
  });

  describe('unreachable targets', () => {
    let silent: Server;
    const sockets: Socket[] = [];
    let silentUrl: string;
    beforeAll(async () => {
      // accepts connections and never answers
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const addr = silent.address();
      silentUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    });

    it('a request that gets no answer times out as UNAVAILABLE', async () => {
      const c = salesforceConnector.create({
        options: { loginUrl: silentUrl, auth: 'client_credentials', clientId: 'x', requestTimeoutMs: 200 },
        credentials: { clientSecret: 'y' },
      });
      const err = await connectorError(pullAll(c, 'accounts'));
      expect(err).toMatchObject({ kind: 'UNAVAILABLE', code: 'TIMEOUT', retryable: true });
      expect(c.stats().apiCalls).toBe(1);
    });

    it('a refused connection is UNAVAILABLE and the health check reports it', async () => {
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const addr = closed.address();
      await new Promise((r) => closed.close(r));
      const c = salesforceConnector.create({
        options: { loginUrl: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, auth: 'client_credentials', clientId: 'x' },
        credentials: { clientSecret: 'y' },
      });
      expect(await connectorError(pullAll(c, 'accounts'))).toMatchObject({ kind: 'UNAVAILABLE', code: 'ECONNREFUSED' });
      const report = await c.healthCheck(quietCtx);
      expect(report.ok).toBe(false);
      expect(report.message).toContain('ECONNREFUSED');
    });
  });
});
