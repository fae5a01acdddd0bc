import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { systemContext } from '../common/context';
import { withServices } from '../cli/cli-context';
import { entitlementStateAt, verifyCertificate, type CertificatePayload, type Jwk } from './certificate.verify';

/** `ehub keys rotate-signing` and `ehub verify-certificate` (register after the `keys` command). */
export function registerCertificateCommands(program: Command): void {
  const keys = program.commands.find((c) => c.name() === 'keys') ?? program.command('keys').description('Manage keys.');
  keys
    .command('rotate-signing')
    .description(
      'Generate a new certificate signing key into EHUB_DATA_DIR/signing-keys and make it current; the previous key is retired but stays in the JWKS, so the certificates it signed still verify. Refused when EHUB_SIGNING_KEY is set.',
    )
    .action(async () => {
      await withServices(async (s, log) => {
        const rotated = await s.certificates.rotateSigning(systemContext(log, 'cli:keys rotate-signing'));
        console.log(rotated.kid);
        console.error(
          `Signing key ${rotated.kid} (${rotated.file}) is now current` +
            (rotated.previousKid ? `; ${rotated.previousKid} is retired and still published in the JWKS` : '') +
            '. Hubs using this data directory sign with it within 30 seconds.',
        );
      });
    });

  program
    .command('verify-certificate')
    .description('Verify an entitlement certificate offline against a JWKS and print the rights it grants; exits 1 when it is not valid.')
    .argument('<file>', 'the certificate: the compact string, or the JSON returned by issueCertificate ("-" reads stdin)')
    .option('--jwks <fileOrUrl>', 'a saved JWKS file, or a hub URL (fetches /.well-known/jwks.json); default: the keys in the hub database')
    .option('--json', 'print the verified payload as JSON instead of a table')
    .action(async (file: string, opts: { jwks?: string; json?: boolean }) => {
      const certificate = parseCertificateFile(file === '-' ? await readStdin() : await fs.readFile(file, 'utf8'));
      const jwks = await loadJwks(opts.jwks);
      const result = verifyCertificate(certificate, jwks);
      if (!result.valid) throw new Error(`Certificate NOT valid (${result.reason}): ${result.message}`);
      if (opts.json) console.log(JSON.stringify(result.payload, null, 2));
      else console.log(describe(result.payload, result.header.kid));
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The compact certificate, from a file holding it alone or the JSON of an issueCertificate answer. */
export function parseCertificateFile(text: string): string {
  const t = text.trim();
  if (!t.startsWith('{')) return t;
  let json: { certificate?: unknown; issueCertificate?: { certificate?: unknown }; data?: { issueCertificate?: { certificate?: unknown } } };
  try {
    json = JSON.parse(t);
  } catch {
    throw new Error('The certificate file is neither a compact certificate nor JSON');
  }
  const c = json.certificate ?? json.issueCertificate?.certificate ?? json.data?.issueCertificate?.certificate;
  if (typeof c !== 'string') throw new Error('The JSON file holds no "certificate" string');
  return c;
}

export async function loadJwks(source: string | undefined): Promise<{ keys: Jwk[] }> {
  let jwks: unknown;
  if (!source) {
    jwks = await withServices((s) => s.certificates.signingKeys.published());
  } else if (/^https?:\/\//i.test(source)) {
    const url = new URL(source);
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/.well-known/jwks.json';
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
      throw new Error(`Could not fetch the JWKS from ${url}: ${err.message}`);
    });
    if (!res.ok) throw new Error(`Could not fetch the JWKS from ${url}: HTTP ${res.status}`);
    jwks = await res.json();
  } else {
    try {
      jwks = JSON.parse(await fs.readFile(source, 'utf8'));
    } catch (err) {
      throw new Error(`Could not read the JWKS file ${source}: ${(err as Error).message}`);
    }
  }
  if (!jwks || typeof jwks !== 'object' || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new Error('The JWKS is not a JSON object with a "keys" array');
  }
  return jwks as { keys: Jwk[] };
}

const PERIOD: Record<string, string> = { DAILY: 'day', MONTHLY: 'month', ANNUAL: 'year', TERM: 'term' };
const instant = (iso: string | null) => (iso === null ? '—' : iso.replace(/\.000Z$/, 'Z'));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
}

/** The rights of a verified certificate, for people. */
export function describe(p: CertificatePayload, kid: string, now = new Date()): string {
  const days = Math.round((p.exp * 1000 - now.getTime()) / 86_400_000);
  const head = [
    'Certificate valid.',
    `  Account   ${p.account.name} (${p.account.id})`,
    `  Device    ${p.device ?? '(not bound to a device)'}`,
    `  Issued    ${instant(new Date(p.iat * 1000).toISOString())}`,
    `  Expires   ${instant(new Date(p.exp * 1000).toISOString())} (${days >= 1 ? `in ${days} day${days === 1 ? '' : 's'}` : 'within a day'})`,
    `  Key       ${kid}`,
    `  Id        ${p.jti}`,
    '',
  ];
  if (p.entitlements.length === 0) return [...head, 'No entitlements: this certificate grants nothing.'].join('\n');
  const rows = [['ENTITLEMENT', 'SKU', 'MODEL', 'STATE NOW', 'QUANTITY', 'STARTS', 'ENDS', 'GRACE ENDS', 'FEATURE', 'LIMIT']];
  for (const e of p.entitlements) {
    const base = [e.id.slice(0, 8), e.sku, e.model, entitlementStateAt(e, now), String(e.quantity), instant(e.startsAt), instant(e.endsAt), instant(e.graceEndsAt)];
    const features = e.features.length ? e.features : [{ key: '—', limit: null }];
    for (const [i, f] of features.entries()) {
      const limit = f.key === '—' ? '' : f.limit === null ? 'unlimited' : f.limit + (e.resetPeriod ? ` per ${PERIOD[e.resetPeriod] ?? e.resetPeriod}` : '');
      rows.push([...(i === 0 ? base : base.map(() => '')), f.key, limit]);
    }
  }
  return [...head, table(rows)].join('\n');
}
