import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { explainConnectError, streamAccess, StreamAccessError } from './usage.stream-access';

/** EHUB_USAGE_STREAM's credentials and TLS files become client options; no secret reaches `display` or an error. */
describe('usage stream access (ADR 0064)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-stream-access-'));
    fs.writeFileSync(path.join(dir, 'ok.creds'), '-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.sig\n------END NATS USER JWT------\n');
    fs.writeFileSync(path.join(dir, 'not.creds'), 'user=ehub\n');
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) fs.writeFileSync(path.join(dir, f), 'x');
    fs.writeFileSync(path.join(dir, 'user.nk'), 'SUAPJVWAR6E4R6XVPS44NMOGVGDJBB7Z72ACIFM2A6TNSZU7P46KTILNNQ\n');
    fs.writeFileSync(path.join(dir, 'account.nk'), 'SAAPJVWAR6E4R6XVPS44NMOGVGDJBB7Z72ACIFM2A6TNSZU7P46KTILNNQ\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes user and password out of the URL (percent-decoded) and masks the password', () => {
    const a = streamAccess({ EHUB_USAGE_STREAM: 'nats://ehub:p%40ss%3Aword@127.0.0.1:4222' });
    expect(a.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(a.options).toEqual({ user: 'ehub', pass: 'p@ss:word' });
    expect(a.auth).toBe('user');
    expect(a.display).toBe('nats://ehub:***@127.0.0.1:4222');
  });

  it('reads a lone user info as a token; servers without credentials share the one given', () => {
    const a = streamAccess({ EHUB_USAGE_STREAM: 'nats://s3cr3t-token@10.0.0.1:4222,nats://10.0.0.2:4222' });
    expect(a.servers).toEqual(['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222']);
    expect(a.options).toEqual({ token: 's3cr3t-token' });
    expect(a.auth).toBe('token');
    expect(a.display).toBe('nats://***@10.0.0.1:4222,nats://10.0.0.2:4222');
    expect(a.display).not.toContain('s3cr3t');
  });

  it('without credentials or TLS passes nothing but the servers', () => {
    const a = streamAccess({ EHUB_USAGE_STREAM: 'nats://127.0.0.1:4222' });
    expect(a).toEqual({ servers: ['nats://127.0.0.1:4222'], display: 'nats://127.0.0.1:4222', options: {}, auth: 'none' });
  });

  it('refuses different credentials on two servers, and a URL password beside a creds file, naming no secret', () => {
    const twice = () => streamAccess({ EHUB_USAGE_STREAM: 'nats://a:pw-first@h1:4222,nats://a:pw-second@h2:4222' });
    expect(twice).toThrow(StreamAccessError);
    expect(twice).toThrow(/different credentials/);
    expect(twice).not.toThrow(/pw-first|pw-second/);
    const both = () => streamAccess({ EHUB_USAGE_STREAM: 'nats://a:pw@h1:4222', EHUB_USAGE_STREAM_CREDS: path.join(dir, 'ok.creds') });
    expect(both).toThrow(/both in the URL and in EHUB_USAGE_STREAM_CREDS/);
  });

  it('uses a creds file through an authenticator that reads it at each connection; refuses one that is missing or not a creds file', () => {
    const a = streamAccess({ EHUB_USAGE_STREAM: 'nats://127.0.0.1:4222', EHUB_USAGE_STREAM_CREDS: path.join(dir, 'ok.creds') });
    expect(a.auth).toBe('creds');
    expect(typeof a.options.authenticator).toBe('function');
    expect(a.options.user).toBeUndefined();
    expect(() => streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222', EHUB_USAGE_STREAM_CREDS: path.join(dir, 'none.creds') })).toThrow(/EHUB_USAGE_STREAM_CREDS=.*none\.creds cannot be read \(ENOENT\)/);
    expect(() => streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222', EHUB_USAGE_STREAM_CREDS: path.join(dir, 'not.creds') })).toThrow(/is not a NATS credentials file/);
  });

  it('uses an NKey seed file (a user seed only), and not beside other credentials', () => {
    const a = streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222', EHUB_USAGE_STREAM_NKEY_SEED: path.join(dir, 'user.nk') });
    expect(a.auth).toBe('nkey');
    expect(typeof a.options.authenticator).toBe('function');
    expect(() => streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222', EHUB_USAGE_STREAM_NKEY_SEED: path.join(dir, 'account.nk') })).toThrow(/does not hold a NATS user seed/);
    expect(() => streamAccess({ EHUB_USAGE_STREAM: 'nats://tok@h:4222', EHUB_USAGE_STREAM_NKEY_SEED: path.join(dir, 'user.nk') })).toThrow(/both in the URL and in EHUB_USAGE_STREAM_NKEY_SEED/);
    expect(() => streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222', EHUB_USAGE_STREAM_CREDS: path.join(dir, 'ok.creds'), EHUB_USAGE_STREAM_NKEY_SEED: path.join(dir, 'user.nk') })).toThrow(
      /both in EHUB_USAGE_STREAM_CREDS and in EHUB_USAGE_STREAM_NKEY_SEED/,
    );
  });

  it('passes the TLS files, wants the certificate and its key together, and turns TLS on for tls:// alone', () => {
    const a = streamAccess({
      EHUB_USAGE_STREAM: 'nats://h:4222',
      EHUB_USAGE_STREAM_TLS_CA: path.join(dir, 'ca.pem'),
      EHUB_USAGE_STREAM_TLS_CERT: path.join(dir, 'cert.pem'),
      EHUB_USAGE_STREAM_TLS_KEY: path.join(dir, 'key.pem'),
    });
    expect(a.options.tls).toEqual({ caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') });
    expect(() => streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222', EHUB_USAGE_STREAM_TLS_CERT: path.join(dir, 'cert.pem') })).toThrow(/go together/);
    expect(() => streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222', EHUB_USAGE_STREAM_TLS_CA: path.join(dir, 'missing.pem') })).toThrow(/EHUB_USAGE_STREAM_TLS_CA=.*cannot be read/);
    expect(streamAccess({ EHUB_USAGE_STREAM: 'tls://h:4222' }).options.tls).toEqual({});
    expect(streamAccess({ EHUB_USAGE_STREAM: 'nats://h:4222' }).options.tls).toBeUndefined();
    // Servers named by IP address get a check against those addresses (the client sends no server name for them).
    const byIp = streamAccess({ EHUB_USAGE_STREAM: 'tls://127.0.0.1:4222,tls://[::1]:4222' }).options.tls as { checkServerIdentity?: unknown };
    expect(typeof byIp.checkServerIdentity).toBe('function');
  });

  it('explains the client’s errors without the password', () => {
    const display = 'nats://ehub:***@127.0.0.1:4222';
    expect(explainConnectError(Object.assign(new Error("'Authorization Violation'"), { name: 'AuthorizationError' }), display)).toMatch(/^NATS at nats:\/\/ehub:\*\*\*@127\.0\.0\.1:4222 refused the hub's credentials/);
    expect(explainConnectError(new Error('self-signed certificate in certificate chain'), display)).toMatch(/^TLS with NATS at .* failed .*EHUB_USAGE_STREAM_TLS_CA/);
    expect(explainConnectError(new Error('timeout'), display, 2_000, true)).toBe(
      'NATS at nats://ehub:***@127.0.0.1:4222 did not answer within 2 s (timeout); with TLS, a server that requires a client certificate ends the connection this way (EHUB_USAGE_STREAM_TLS_CERT/KEY)',
    );
    expect(explainConnectError(new Error('timeout'), display, 20_000)).toBe('NATS at nats://ehub:***@127.0.0.1:4222 did not answer within 20 s (timeout)');
    expect(explainConnectError(new Error('connect ECONNREFUSED 127.0.0.1:4222'), display)).toBe('cannot reach NATS at nats://ehub:***@127.0.0.1:4222 (connect ECONNREFUSED 127.0.0.1:4222)');
  });
});
