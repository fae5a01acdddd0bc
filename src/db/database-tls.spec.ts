import { explainDatabaseTls, replicaDownMessage } from './database-tls';

const URL_ = 'postgres://ehub:pa55word@db.example.com:6432/ehub?sslmode=verify-full';
const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

/** DATABASE_URL's TLS failures, each said with what to change; other failures untouched; never the password. */
describe('explainDatabaseTls', () => {
  it('a certificate not trusted, expired or for another name: give the CA with sslrootcert and name the server as the certificate does', () => {
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      const said = explainDatabaseTls(err('some tls text', code), URL_);
      expect(said).toBe(
        "DATABASE_URL: TLS to PostgreSQL at db.example.com:6432 failed: some tls text. Give the CA of the server's certificate with sslrootcert=<file> in DATABASE_URL (with sslmode=verify-full), and name the server as its certificate does",
      );
    }
  });

  it('a server without TLS, and a server with TLS only', () => {
    expect(explainDatabaseTls(err('The server does not support SSL connections'), URL_)).toMatch(/^DATABASE_URL: PostgreSQL at db\.example\.com:6432 does not accept TLS connections; turn ssl on in the server, or remove sslmode/);
    expect(explainDatabaseTls(err('no pg_hba.conf entry for host "10.0.0.1", user "ehub", database "ehub", no encryption', '28000'), 'postgres://ehub:pa55word@db.example.com/ehub')).toMatch(
      /^DATABASE_URL: PostgreSQL at db\.example\.com:5432 accepts TLS connections only; add sslmode=verify-full&sslrootcert=/,
    );
  });

  it('anything else is left alone, and nothing said holds the password', () => {
    expect(explainDatabaseTls(err('password authentication failed for user "ehub"', '28P01'), URL_)).toBeNull();
    expect(explainDatabaseTls(err('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'), URL_)).toBeNull();
    expect(explainDatabaseTls(err('x', 'CERT_HAS_EXPIRED'), URL_)).not.toContain('pa55word');
  });
});

/** The read replica's warning: a TLS failure says what to change in DATABASE_READ_URL; anything else stays the plain "cannot be reached". */
describe('replicaDownMessage', () => {
  const READ = 'postgres://reader:r3ad@replica.example.com/ehub?sslmode=verify-full';
  it('names DATABASE_READ_URL and the replica, never its password', () => {
    const said = replicaDownMessage(err('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), READ);
    expect(said).toBe(
      "DATABASE_READ_URL: TLS to PostgreSQL at replica.example.com:5432 failed: self-signed certificate in certificate chain. Give the CA of the server's certificate with sslrootcert=<file> in DATABASE_READ_URL (with sslmode=verify-full), and name the server as its certificate does. Analytics read the primary until the replica can be reached",
    );
    expect(said).not.toContain('r3ad');
  });
  it('any other failure: the replica cannot be reached', () => {
    expect(replicaDownMessage(err('connect ECONNREFUSED 10.0.0.2:5432', 'ECONNREFUSED'), READ)).toBe('the read replica (DATABASE_READ_URL) cannot be reached: analytics read the primary until it can');
  });
});
