import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA of the test's own, a server certificate for `serverNames` (subjectAltName entries; default 127.0.0.1 only) and a client certificate, made with openssl into `dir`. */
export function makeTlsFiles(dir: string, serverNames: string[] = ['IP:127.0.0.1']): TlsFiles {
  const p = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=ehub test CA');
  const issue = (name: string, cn: string, ext: string) => {
    fs.writeFileSync(p(`${name}.ext`), ext);
    openssl('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.pem`), '-days', '2', '-extfile', p(`${name}.ext`));
  };
  issue('server', '127.0.0.1', `subjectAltName=${serverNames.join(',')}\nextendedKeyUsage=serverAuth\n`);
  issue('client', 'ehub', 'extendedKeyUsage=clientAuth\n');
  return { ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}
