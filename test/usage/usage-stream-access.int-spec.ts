import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { connect, nkeys, type ConnectionOptions } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../../src/config';
import { systemContext } from '../../src/common/context';
import { UsageStream } from '../../src/usage/usage.stream';
import { streamAccess } from '../../src/usage/usage.stream-access';
import type { UsageEventDraft } from '../../src/usage/usage.rules';
import type { UsageService } from '../../src/usage/usage.service';
import { makeOperatorSetup, startNatsServer, type NatsServer, type OperatorSetup } from '../support/nats-server';
import { makeTlsFiles, type TlsFiles } from '../support/tls-files';
import { spawnServe, type ServedHub } from '../support/serve-process';
import { startTestHub, type TestHub } from '../support/test-hub';
import { hoursAgo, ndjson, seedUsageCatalog } from './usage-support';

/*
 * The usage stream against NATS servers that ask for credentials and TLS (ADR 0064): real
 * nats-server processes of this file's own (user and password, token, TLS with client
 * certificates), the hub's UsageStream publishing into JetStream through them, and one real
 * `ehub serve` that writes what it published into PostgreSQL. Wrong or missing credentials
 * and certificates fail at start with a message that names the cause and no secret.
 */
const PASSWORD = 'p@ss:w0rd/Ünï';
const TOKEN = 'tok-3d1c9e0b7a';
const log = pino({ level: 'silent' });

const draft = (id: string): UsageEventDraft => ({
  index: 0,
  id,
  source: 'access-test',
  accountId: '0f0e0d0c-0b0a-4009-8807-060504030201',
  accountRef: null,
  meter: 'u.calls',
  quantity: '1',
  occurredAt: new Date().toISOString(),
  deployment: 'CLOUD' as UsageEventDraft['deployment'],
  user: null,
  device: null,
  properties: null,
  hash: `h-${id}`,
});

const servers: NatsServer[] = [];
let userServer: NatsServer;
let tokenServer: NatsServer;
let tlsServer: NatsServer;
let credsServer: NatsServer;
let nkeyServer: NatsServer;
const nkeyUser = nkeys.createUser();
let operator: OperatorSetup;
let tls: TlsFiles;
let tlsDir: string;

beforeAll(async () => {
  userServer = await startNatsServer(`authorization { user: ehub, password: "${PASSWORD}" }`);
  tokenServer = await startNatsServer(`authorization { token: "${TOKEN}" }`);
  tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-nats-tls-'));
  tls = makeTlsFiles(tlsDir);
  tlsServer = await startNatsServer(
    `authorization { user: ehub, password: "${PASSWORD}" }\ntls { cert_file: "${tls.serverCert}", key_file: "${tls.serverKey}", ca_file: "${tls.ca}", verify: true, timeout: 3 }`,
  );
  operator = makeOperatorSetup();
  credsServer = await startNatsServer(operator.serverConf);
  nkeyServer = await startNatsServer(`authorization { users = [ { nkey: "${nkeyUser.getPublicKey()}" } ] }`);
  servers.push(userServer, tokenServer, tlsServer, credsServer, nkeyServer);
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  fs.rmSync(tlsDir, { recursive: true, force: true });
});

const userUrl = (port: number, password = PASSWORD) => `nats://ehub:${encodeURIComponent(password)}@127.0.0.1:${port}`;

/** A UsageStream that publishes only (no consumer loop), on its own stream name. */
function streamWith(env: Record<string, string>, name: string): UsageStream {
  return new UsageStream(loadConfig({ EHUB_USAGE_STREAM_NAME: name, EHUB_USAGE_STREAM_SUBJECT: `ehub.access.${name}`, EHUB_USAGE_STREAM_CONSUME: 'false', ...env }), log);
}

/** Messages in a stream, read over a connection of the test's own. */
async function messagesIn(stream: string, opts: ConnectionOptions): Promise<number> {
  const nc = await connect(opts);
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Starting fails: resolves with the error's message (the stream is stopped either way). */
async function startFails(s: UsageStream): Promise<string> {
  try {
    await s.start(undefined as unknown as UsageService);
  } catch (err) {
    return (err as Error).message;
  } finally {
    await s.stop();
  }
  throw new Error('the stream started');
}

describe('usage stream: credentials and TLS (ADR 0064)', () => {
  jest.setTimeout(60_000);

  it('user and password from the URL (percent-encoded): the batch reaches JetStream; a wrong or missing password is refused, and never printed', async () => {
    const s = streamWith({ EHUB_USAGE_STREAM: userUrl(userServer.port) }, 'ACCESS_USER');
    await s.start(undefined as unknown as UsageService);
    try {
      const answer = await s.publish(systemContext(log, 'test'), [draft('u1'), draft('u2')]);
      expect(answer).toMatchObject({ accepted: 2, duplicates: 0, queued: 2 });
    } finally {
      await s.stop();
    }
    expect(await messagesIn('ACCESS_USER', { servers: `127.0.0.1:${userServer.port}`, user: 'ehub', pass: PASSWORD })).toBe(1);

    const wrong = await startFails(streamWith({ EHUB_USAGE_STREAM: userUrl(userServer.port, 'not-the-password') }, 'ACCESS_USER'));
    expect(wrong).toMatch(/^EHUB_USAGE_STREAM: NATS at nats:\/\/ehub:\*\*\*@127\.0\.0\.1:\d+ refused the hub's credentials/);
    expect(wrong).not.toContain('not-the-password');
    const missing = await startFails(streamWith({ EHUB_USAGE_STREAM: `nats://127.0.0.1:${userServer.port}` }, 'ACCESS_USER'));
    expect(missing).toMatch(/refused the hub's credentials/);
  });

  it('a token from the URL', async () => {
    const s = streamWith({ EHUB_USAGE_STREAM: `nats://${TOKEN}@127.0.0.1:${tokenServer.port}` }, 'ACCESS_TOKEN');
    await s.start(undefined as unknown as UsageService);
    try {
      expect(await s.publish(systemContext(log, 'test'), [draft('t1')])).toMatchObject({ accepted: 1, queued: 1 });
    } finally {
      await s.stop();
    }
    expect(await messagesIn('ACCESS_TOKEN', { servers: `127.0.0.1:${tokenServer.port}`, token: TOKEN })).toBe(1);
    const wrong = await startFails(streamWith({ EHUB_USAGE_STREAM: `nats://tok-wrong@127.0.0.1:${tokenServer.port}` }, 'ACCESS_TOKEN'));
    expect(wrong).toMatch(/refused the hub's credentials/);
    expect(wrong).not.toContain('tok-wrong');
  });

  it('a .creds file (operator mode: JWTs signed with NKeys), read when connecting: another account\'s creds are refused, the replaced file is used', async () => {
    const file = path.join(tlsDir, 'ehub.creds');
    fs.writeFileSync(file, operator.foreignCreds);
    const env = { EHUB_USAGE_STREAM: `nats://127.0.0.1:${credsServer.port}`, EHUB_USAGE_STREAM_CREDS: file };
    expect(await startFails(streamWith(env, 'ACCESS_CREDS'))).toMatch(/refused the hub's credentials/);
    // The file replaced (a rotation): the next connection reads the new one.
    fs.writeFileSync(file, operator.creds);
    const s = streamWith(env, 'ACCESS_CREDS');
    await s.start(undefined as unknown as UsageService);
    try {
      expect(await s.publish(systemContext(log, 'test'), [draft('c1'), draft('c2')])).toMatchObject({ accepted: 2, queued: 2 });
    } finally {
      await s.stop();
    }
    const access = streamAccess(env);
    expect(await messagesIn('ACCESS_CREDS', { servers: access.servers, ...access.options })).toBe(1);
  });

  it('a .creds file rotated while connected: when the server drops the hub and revokes the old user, the hub reconnects with the new file', async () => {
    const rot = makeOperatorSetup();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-nats-rot-'));
    let server = await startNatsServer(rot.serverConf, dir);
    const port = server.port;
    const file = path.join(tlsDir, 'rotating.creds');
    fs.writeFileSync(file, rot.creds);
    const env = { EHUB_USAGE_STREAM: `nats://127.0.0.1:${port}`, EHUB_USAGE_STREAM_CREDS: file };
    const s = streamWith(env, 'ACCESS_ROTATE');
    try {
      try {
        await s.start(undefined as unknown as UsageService);
        expect(await s.publish(systemContext(log, 'test'), [draft('r1')])).toMatchObject({ accepted: 1, queued: 1 });
        // The credentials rotated: the new user's file in place, then the server restarted with
        // the old user revoked (its JetStream store kept). The same UsageStream object reconnects.
        fs.writeFileSync(file, rot.rotated.creds);
        await server.stop({ keep: true });
        server = await startNatsServer(rot.rotated.serverConf, dir, port);
        let answer: unknown = null;
        for (const until = Date.now() + 30_000; !answer && Date.now() < until; ) {
          answer = await s.publish(systemContext(log, 'test'), [draft('r2')]).catch(() => null);
          if (!answer) await new Promise((r) => setTimeout(r, 200));
        }
        expect(answer).toMatchObject({ accepted: 1, queued: 1 });
      } finally {
        await s.stop();
      }
      const access = streamAccess(env);
      expect(await messagesIn('ACCESS_ROTATE', { servers: access.servers, ...access.options })).toBe(2);
      // The premise: the old user's file no longer gets in, so the reconnection used the new one.
      fs.writeFileSync(file, rot.creds);
      expect(await startFails(streamWith(env, 'ACCESS_ROTATE'))).toMatch(/refused the hub's credentials/);
    } finally {
      await server.stop();
    }
  });

  it('an NKey seed file: the server knows the public key; another seed is refused', async () => {
    const file = path.join(tlsDir, 'ehub.nk');
    fs.writeFileSync(file, `${Buffer.from(nkeys.createUser().getSeed()).toString()}\n`);
    const env = { EHUB_USAGE_STREAM: `nats://127.0.0.1:${nkeyServer.port}`, EHUB_USAGE_STREAM_NKEY_SEED: file };
    expect(await startFails(streamWith(env, 'ACCESS_NKEY'))).toMatch(/refused the hub's credentials/);
    fs.writeFileSync(file, `${Buffer.from(nkeyUser.getSeed()).toString()}\n`);
    const s = streamWith(env, 'ACCESS_NKEY');
    await s.start(undefined as unknown as UsageService);
    try {
      expect(await s.publish(systemContext(log, 'test'), [draft('n1')])).toMatchObject({ accepted: 1, queued: 1 });
    } finally {
      await s.stop();
    }
    const access = streamAccess(env);
    expect(access.auth).toBe('nkey');
    expect(await messagesIn('ACCESS_NKEY', { servers: access.servers, ...access.options })).toBe(1);
  });

  it('TLS with a private CA and a client certificate; without the CA, or without the client certificate, it fails', async () => {
    const env = { EHUB_USAGE_STREAM: userUrl(tlsServer.port), EHUB_USAGE_STREAM_TLS_CA: tls.ca, EHUB_USAGE_STREAM_TLS_CERT: tls.clientCert, EHUB_USAGE_STREAM_TLS_KEY: tls.clientKey };
    const s = streamWith(env, 'ACCESS_TLS');
    await s.start(undefined as unknown as UsageService);
    try {
      expect(await s.publish(systemContext(log, 'test'), [draft('s1'), draft('s2'), draft('s3')])).toMatchObject({ accepted: 3, queued: 3 });
    } finally {
      await s.stop();
    }
    // Read back over a connection with the same options (the certificate names 127.0.0.1 only: see ipServerIdentity).
    const access = streamAccess(env);
    expect(await messagesIn('ACCESS_TLS', { servers: access.servers, ...access.options })).toBe(1);

    const { EHUB_USAGE_STREAM_TLS_CA: _ca, ...noCa } = env;
    expect(await startFails(streamWith(noCa, 'ACCESS_TLS'))).toMatch(/TLS with NATS at nats:\/\/ehub:\*\*\*@127\.0\.0\.1:\d+ failed/);
    const { EHUB_USAGE_STREAM_TLS_CERT: _c, EHUB_USAGE_STREAM_TLS_KEY: _k, ...noClientCert } = env;
    // The server ends the handshake after it completed on the client's side (TLS 1.3): the client only sees no answer.
    const refused = await startFails(streamWith({ ...noClientCert, EHUB_USAGE_STREAM_CONNECT_TIMEOUT_MS: '2000' }, 'ACCESS_TLS'));
    expect(refused).toMatch(/^EHUB_USAGE_STREAM: NATS at nats:\/\/ehub:\*\*\*@127\.0\.0\.1:\d+ did not answer within 2 s \(timeout\); with TLS, a server that requires a client certificate/);
    expect(refused).not.toContain(PASSWORD);
  });

  describe('ehub serve through TLS and a password', () => {
    let hub: TestHub;
    let served: ServedHub | undefined;
    let dataDir: string;
    afterAll(async () => {
      if (served && served.proc.exitCode === null) {
        served.proc.kill('SIGTERM');
        await served.exited;
      }
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
      await hub?.close();
    });

    it('publishes and writes posted usage exactly once; its log names the servers with the password masked', async () => {
      hub = await startTestHub();
      await seedUsageCatalog(hub);
      const accountId = (await hub.ok<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', { i: { name: 'Over TLS' } })).upsertAccount.id;
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-stream-access-serve-'));
      const { EHUB_ADMIN_KEY: _a, ...rest } = process.env;
      served = await spawnServe({
        ...rest,
        NODE_ENV: 'test',
        NODE_OPTIONS: '',
        LOG_LEVEL: 'info',
        DATABASE_URL: hub.databaseUrl,
        EHUB_DATA_DIR: dataDir,
        EHUB_JOBS_ENABLED: 'false',
        EHUB_USAGE_STREAM: userUrl(tlsServer.port),
        EHUB_USAGE_STREAM_TLS_CA: tls.ca,
        EHUB_USAGE_STREAM_TLS_CERT: tls.clientCert,
        EHUB_USAGE_STREAM_TLS_KEY: tls.clientKey,
        EHUB_USAGE_STREAM_NAME: 'ACCESS_SERVE',
        EHUB_USAGE_STREAM_SUBJECT: 'ehub.access.serve',
      });
      const line = served
        .output()
        .split('\n')
        .find((l) => l.includes('usage goes through the stream'));
      expect(JSON.parse(line!)).toMatchObject({ servers: `nats://ehub:***@127.0.0.1:${tlsServer.port}`, auth: 'user', tls: true });
      expect(served.output()).not.toContain(PASSWORD);
      expect(served.output()).not.toContain(encodeURIComponent(PASSWORD));

      const events = Array.from({ length: 50 }, (_, i) => ({ id: `serve-${i}`, source: 'over-tls', accountId, meter: 'u.calls', quantity: i + 1, occurredAt: hoursAgo(1), deployment: 'CLOUD' }));
      for (let round = 0; round < 2; round++) {
        const res = await fetch(`${served.url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${hub.adminKey}` }, body: ndjson(events) });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ queued: 50, rejected: [] });
      }
      const until = Date.now() + 30_000;
      let row: { n: number; sum: string } | undefined;
      while (Date.now() < until) {
        [row] = (await hub.ds.query("SELECT count(*)::int AS n, coalesce(sum(quantity), 0)::text AS sum FROM usage_event WHERE source = 'over-tls'")) as { n: number; sum: string }[];
        if (row!.n >= 50) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      // Sent twice, stored once: 1 + 2 + … + 50.
      expect(row).toEqual({ n: 50, sum: '1275' });
    });
  });
});
