/** Certificate errors of Node's TLS (a server certificate not trusted, expired, or for another name). */
const CERTIFICATE_CODES = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * A failed first connection to DATABASE_URL (or `variable`, e.g. DATABASE_READ_URL) because of
 * TLS, said with what to change in the URL (docs/operations.md, "PostgreSQL over TLS"); null for
 * any other failure. Names the server by host and port only: the URL holds the password.
 */
export function explainDatabaseTls(err: unknown, url: string, variable = 'DATABASE_URL'): string | null {
  const e = err as { code?: string; message?: string };
  const message = e?.message ?? String(err);
  let server = 'the server';
  try {
    const u = new URL(url);
    server = `${u.hostname}:${u.port || '5432'}`;
  } catch {
    // an unparsable URL never reaches here (the driver would have refused it); keep the generic name
  }
  if (e?.code && CERTIFICATE_CODES.test(e.code)) {
    return `${variable}: TLS to PostgreSQL at ${server} failed: ${message}. Give the CA of the server's certificate with sslrootcert=<file> in ${variable} (with sslmode=verify-full), and name the server as its certificate does`;
  }
  if (/does not support SSL/i.test(message)) {
    return `${variable}: PostgreSQL at ${server} does not accept TLS connections; turn ssl on in the server, or remove sslmode from ${variable} (${message})`;
  }
  if (e?.code === '28000' && /no encryption/i.test(message)) {
    return `${variable}: PostgreSQL at ${server} accepts TLS connections only; add sslmode=verify-full&sslrootcert=<the server's CA file> to ${variable} (${message})`;
  }
  return null;
}

/**
 * The warning for a read replica that cannot be used: analytics read the primary meanwhile. A TLS
 * failure says what to change in DATABASE_READ_URL, as one of DATABASE_URL's does at start.
 */
export function replicaDownMessage(err: unknown, url: string): string {
  const tls = explainDatabaseTls(err, url, 'DATABASE_READ_URL');
  return tls ? `${tls}. Analytics read the primary until the replica can be reached` : 'the read replica (DATABASE_READ_URL) cannot be reached: analytics read the primary until it can';
}
