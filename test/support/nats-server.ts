import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { freePort } from '../../src/db/embedded-postgres';
import { startDaemon, systemBinary } from './daemon';

/**
 * A NATS server (with JetStream) of the test's own, started from the `nats-server` binary
 * (.ci/run installs Debian's package) with the configuration given: for what the machine's
 * shared server on 4222 cannot show, such as authorization and TLS.
 */
export interface NatsServer {
  port: number;
  /** The server's folder: its configuration, JetStream store and log. */
  dir: string;
  output(): string;
  /** Stops it and removes its folder (`keep`: leaves the folder, to start it again). */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

/**
 * Starts nats-server on a free port of 127.0.0.1 (or `port`) with `conf` added to its
 * configuration; resolves once it is ready. Given the folder and port of one stopped with
 * `stop({ keep: true })`, it is that server started again, its JetStream store included.
 */
export async function startNatsServer(conf: string, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-nats-')), port?: number): Promise<NatsServer> {
  port ??= await freePort();
  const file = path.join(dir, 'nats.conf');
  fs.writeFileSync(file, `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${path.join(dir, 'js')}" }\n${conf}\n`);
  const bin = systemBinary('nats-server', 'apt-get install -y nats-server, or set EHUB_TEST_NATS_SERVER', process.env.EHUB_TEST_NATS_SERVER);
  const daemon = await startDaemon(bin, ['-c', file], /Server is ready/);
  return {
    port,
    dir,
    output: daemon.output,
    async stop(opts = {}) {
      await daemon.stop();
      if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * NATS's decentralised auth for a test (operator mode): an operator, an account with
 * JetStream allowed, and a user, as signed JWTs (ed25519 NKeys, the format `nsc` writes), with
 * the server configuration that trusts them and the user's `.creds` file.
 */
export interface OperatorSetup {
  /** Lines for the server's configuration (operator, memory resolver preloaded with the account). */
  serverConf: string;
  /** The user's credentials file: its JWT and NKey seed. */
  creds: string;
  /** The same user's credentials, signed by another operator's account (the server must refuse them). */
  foreignCreds: string;
  /**
   * A rotation: a second user of the same account, and the server's configuration once the
   * first user is revoked (the account's JWT reissued with the revocation), so that only the
   * second user's credentials get in.
   */
  rotated: { creds: string; serverConf: string };
}

type KeyPair = ReturnType<typeof nkeys.createOperator>;

function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { jti: randomBytes(16).toString('hex').toUpperCase(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  const signing = `${b64({ typ: 'JWT', alg: 'ed25519-nkey' })}.${b64(claims)}`;
  return `${signing}.${Buffer.from(issuer.sign(Buffer.from(signing))).toString('base64url')}`;
}

function credsFile(jwt: string, seed: Uint8Array): string {
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${Buffer.from(seed).toString()}\n------END USER NKEY SEED------\n`;
}

function userOf(account: KeyPair, user: KeyPair = nkeys.createUser()): string {
  const jwt = natsJwt(account, user.getPublicKey(), 'ehub', { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: 'user' });
  return credsFile(jwt, user.getSeed());
}

export function makeOperatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const system = nkeys.createAccount();
  const limits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const accountJwt = (revocations?: Record<string, number>) =>
    natsJwt(operator, account.getPublicKey(), 'usage', {
      limits: { ...limits, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
      default_permissions: { pub: {}, sub: {} },
      ...(revocations ? { revocations } : {}),
      type: 'account',
    });
  const systemJwt = natsJwt(operator, system.getPublicKey(), 'SYS', { limits, default_permissions: { pub: {}, sub: {} }, type: 'account' });
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), 'ehub-test', { type: 'operator', system_account: system.getPublicKey() });
  const serverConf = (accountClaims: string) =>
    [
      `operator: "${operatorJwt}"`,
      `system_account: "${system.getPublicKey()}"`,
      'resolver: MEMORY',
      `resolver_preload: { "${account.getPublicKey()}": "${accountClaims}", "${system.getPublicKey()}": "${systemJwt}" }`,
    ].join('\n');
  const first = nkeys.createUser();
  // Revoked: the first user's JWTs issued up to a minute from now (so its current one).
  const revoked = accountJwt({ [first.getPublicKey()]: Math.floor(Date.now() / 1000) + 60 });
  return {
    serverConf: serverConf(accountJwt()),
    creds: userOf(account, first),
    foreignCreds: userOf(nkeys.createAccount()),
    rotated: { creds: userOf(account), serverConf: serverConf(revoked) },
  };
}
