import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { tlsFilesProblem, unreadableFile } from '../common/files';

/*
 * How the hub reaches NATS for the usage stream (ADR 0064): the servers, the credentials and
 * TLS, from EHUB_USAGE_STREAM and its companions. The NATS client takes credentials only as
 * options (it ignores a URL's user info), so the URL's `user:password@` or `token@` are taken
 * out of the server list and passed as options; a `.creds` file (JWT and NKey seed, NATS's
 * decentralised auth) is read again at every (re)connection so that a rotated file is used;
 * TLS files are checked at start-up. Nothing secret ever reaches a log line or an error:
 * `display` is the server list with its credentials masked.
 */

export interface StreamAccessConfig {
  EHUB_USAGE_STREAM?: string;
  EHUB_USAGE_STREAM_CREDS?: string;
  EHUB_USAGE_STREAM_NKEY_SEED?: string;
  EHUB_USAGE_STREAM_TLS_CA?: string;
  EHUB_USAGE_STREAM_TLS_CERT?: string;
  EHUB_USAGE_STREAM_TLS_KEY?: string;
}

export interface StreamAccess {
  /** The servers without credentials, as the client takes them. */
  servers: string[];
  /** The servers for logs and errors, credentials masked (`nats://user:***@host:4222`). */
  display: string;
  /** What the client is given besides the servers: user/pass or token, the creds authenticator, TLS. */
  options: Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator' | 'tls'>;
  /** How the hub authenticates, for the start-up log: none, user, token, creds or nkey. */
  auth: 'none' | 'user' | 'token' | 'creds' | 'nkey';
}

/** A configuration the hub cannot connect with: the message names the variable and never a secret. */
export class StreamAccessError extends Error {
  constructor(message: string) {
    super(`EHUB_USAGE_STREAM: ${message}`);
    this.name = 'StreamAccessError';
  }
}

interface Credentials {
  user?: string;
  pass?: string;
  token?: string;
}

const same = (a: Credentials, b: Credentials) => a.user === b.user && a.pass === b.pass && a.token === b.token;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new StreamAccessError(`the ${what} in a server URL is not valid percent-encoding`);
  }
}

/** One server URL: itself without user info, masked for display, and the credentials it carried (if any). */
function parseServer(raw: string): { server: string; hostname: string; display: string; credentials: Credentials | null } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo the URL: it may hold a password.
    throw new StreamAccessError('a server is not a valid URL (nats://[user:password@]host:port or tls://…)');
  }
  const scheme = url.protocol.replace(/:$/, '');
  const hostPort = url.host;
  if (!hostPort) throw new StreamAccessError('a server URL has no host');
  const server = `${scheme}://${hostPort}`;
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (!url.username && !url.password) return { server, hostname, display: server, credentials: null };
  if (url.password) {
    if (!url.username) throw new StreamAccessError('a server URL has a password and no user');
    const user = decode(url.username, 'user');
    return { server, hostname, display: `${scheme}://${encodeURIComponent(user)}:***@${hostPort}`, credentials: { user, pass: decode(url.password, 'password') } };
  }
  return { server, hostname, display: `${scheme}://***@${hostPort}`, credentials: { token: decode(url.username, 'token') } };
}

function readable(file: string, variable: string): string {
  const problem = unreadableFile(file, variable);
  if (problem) throw new StreamAccessError(problem);
  return file;
}

/** The servers, credentials and TLS options from the configuration, checked; throws StreamAccessError. */
export function streamAccess(c: StreamAccessConfig): StreamAccess {
  if (!c.EHUB_USAGE_STREAM) throw new StreamAccessError('not set');
  const parsed = c.EHUB_USAGE_STREAM.split(',').map((s) => parseServer(s.trim()));
  const given = parsed.map((p) => p.credentials).filter((x): x is Credentials => x !== null);
  if (given.some((g) => !same(g, given[0]!))) {
    throw new StreamAccessError('the server URLs carry different credentials; the client uses one set for every server (give them on one URL or on all alike)');
  }
  const credentials = given[0];
  const ways = [credentials && 'the URL', c.EHUB_USAGE_STREAM_CREDS && 'EHUB_USAGE_STREAM_CREDS', c.EHUB_USAGE_STREAM_NKEY_SEED && 'EHUB_USAGE_STREAM_NKEY_SEED'].filter(Boolean);
  if (ways.length > 1) throw new StreamAccessError(`credentials are given both in ${ways[0]} and in ${ways[1]}; use one`);
  const options: StreamAccess['options'] = {};
  let auth: StreamAccess['auth'] = 'none';
  if (credentials) {
    Object.assign(options, credentials);
    auth = credentials.token !== undefined ? 'token' : 'user';
  }
  if (c.EHUB_USAGE_STREAM_CREDS) {
    const file = readable(c.EHUB_USAGE_STREAM_CREDS, 'EHUB_USAGE_STREAM_CREDS');
    if (!fs.readFileSync(file, 'utf8').includes('-----BEGIN NATS USER JWT-----')) {
      throw new StreamAccessError(`EHUB_USAGE_STREAM_CREDS=${file} is not a NATS credentials file (no "BEGIN NATS USER JWT" block)`);
    }
    // Read at every connection and reconnection: a rotated file takes effect without a restart.
    options.authenticator = credsAuthenticator(() => fs.readFileSync(file));
    auth = 'creds';
  }
  if (c.EHUB_USAGE_STREAM_NKEY_SEED) {
    const file = readable(c.EHUB_USAGE_STREAM_NKEY_SEED, 'EHUB_USAGE_STREAM_NKEY_SEED');
    // A user seed (SU…): the server lists the user by its public key (U…) and the hub signs its nonce.
    const seed = () => Buffer.from(fs.readFileSync(file, 'utf8').trim());
    if (!/^SU[A-Z2-7]{56}$/.test(seed().toString())) {
      throw new StreamAccessError(`EHUB_USAGE_STREAM_NKEY_SEED=${file} does not hold a NATS user seed (one line starting with SU)`);
    }
    options.authenticator = nkeyAuthenticator(seed);
    auth = 'nkey';
  }
  const { EHUB_USAGE_STREAM_TLS_CA: ca, EHUB_USAGE_STREAM_TLS_CERT: cert, EHUB_USAGE_STREAM_TLS_KEY: key } = c;
  const problem = tlsFilesProblem(
    [
      { variable: 'EHUB_USAGE_STREAM_TLS_CA', file: ca },
      { variable: 'EHUB_USAGE_STREAM_TLS_CERT', file: cert },
      { variable: 'EHUB_USAGE_STREAM_TLS_KEY', file: key },
    ],
    [cert, key],
    'EHUB_USAGE_STREAM_TLS_CERT and EHUB_USAGE_STREAM_TLS_KEY',
  );
  if (problem) throw new StreamAccessError(problem);
  const wantsTls = parsed.some((p) => p.server.startsWith('tls://'));
  if (ca || cert || wantsTls) {
    const ips = parsed.map((p) => p.hostname).filter((h) => net.isIP(h) !== 0);
    options.tls = {
      ...(ips.length ? { checkServerIdentity: ipServerIdentity(ips) } : {}),
      ...(ca ? { caFile: ca } : {}),
      ...(cert && key ? { certFile: cert, keyFile: key } : {}),
    };
  }
  return { servers: parsed.map((p) => p.server), display: parsed.map((p) => p.display).join(','), options, auth };
}

/**
 * The NATS client connects to an IP address without a TLS server name, so Node checks the
 * certificate against "localhost" (nats.js's node transport): a certificate issued for the IP
 * the operator configured would be refused. This checks it against the configured IP
 * addresses as well; a name the certificate holds (localhost included) still passes as before.
 */
function ipServerIdentity(ips: string[]): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const direct = tls.checkServerIdentity(host, cert);
    if (!direct) return undefined;
    return ips.some((ip) => !tls.checkServerIdentity(ip, cert)) ? undefined : direct;
  };
}

/** A connection error of the NATS client, said plainly (the client's own text kept in brackets). */
export function explainConnectError(err: Error, display: string, timeoutMs?: number, withTls = false): string {
  const text = `${err.name}: ${err.message}`;
  if (/authorization|authentication|auth.*(violation|expired|revoked)|user.*(expired|revoked)/i.test(text)) {
    return `NATS at ${display} refused the hub's credentials (check the URL's user:password or token, or EHUB_USAGE_STREAM_CREDS) [${err.message}]`;
  }
  if (/certificate|self[- ]signed|unable to verify|tls|ssl/i.test(text)) {
    return `TLS with NATS at ${display} failed (check EHUB_USAGE_STREAM_TLS_CA for the server's CA, and EHUB_USAGE_STREAM_TLS_CERT/KEY if the server asks for a client certificate) [${err.message}]`;
  }
  if (/^timeout$/i.test(err.message) && timeoutMs !== undefined) {
    const hint = withTls ? '; with TLS, a server that requires a client certificate ends the connection this way (EHUB_USAGE_STREAM_TLS_CERT/KEY)' : '';
    return `NATS at ${display} did not answer within ${timeoutMs / 1000} s (timeout)${hint}`;
  }
  return `cannot reach NATS at ${display} (${err.message})`;
}
