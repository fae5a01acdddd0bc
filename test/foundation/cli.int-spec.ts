import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../support/scratch';
import { startTestHub, type TestHub } from '../support/test-hub';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

function ehub(...args: string[]) {
  return run(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: hub.databaseUrl, NODE_OPTIONS: '', LOG_LEVEL: 'warn' },
  });
}

const scratch = scratchDir('ehub-cli-');
/** The CLI with the modules it loaded: the files `require` read, as paths relative to the project. */
async function ehubLoading(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; loaded: string[] }> {
  const list = path.join(scratch, `loaded-${args[0]}.txt`);
  const cli = ['-r', '@swc-node/register', '-r', path.join(ROOT, 'test/support/loaded-modules.ts'), ...CLI.slice(2)];
  const result = await run(process.execPath, [...cli, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: hub.databaseUrl, NODE_OPTIONS: '', LOG_LEVEL: 'warn', EHUB_TEST_LOADED_MODULES: list },
  }).then(
    (r) => ({ code: 0, ...r }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
  const loaded = (await fs.readFile(list, 'utf8')).split('\n').map((f) => path.relative(ROOT, f));
  return { ...result, loaded };
}

/** What only the server, the database and the GraphQL schema need (ADR 0067: loaded when a command uses them). */
const HEAVY = [/^node_modules\/typeorm\//, /^node_modules\/fastify\//, /^node_modules\/@apollo\/server\//, /^node_modules\/type-graphql\//, /^src\/server\//, /\.entities?\.ts$/];
const heavy = (loaded: string[]) => loaded.filter((f) => HEAVY.some((re) => re.test(f)));

describe('ehub CLI', () => {
  jest.setTimeout(60_000);

  it('--help lists the commands', async () => {
    const { stdout } = await ehub('--help');
    for (const cmd of ['serve', 'migrate', 'keys', 'demo', 'schema']) expect(stdout).toContain(cmd);
    expect((await ehub('keys', '--help')).stdout).toMatch(/create[\s\S]*list[\s\S]*revoke/);
  });

  it('loads the server, TypeORM and the schema only for the commands that use them', async () => {
    const help = await ehubLoading('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('verify-certificate');
    expect(help.loaded).toContain('src/cli/main.ts');
    expect(heavy(help.loaded)).toEqual([]);

    // An offline check against a saved JWKS: no database, no server.
    const jwks = path.join(scratch, 'jwks.json');
    const certificate = path.join(scratch, 'certificate.txt');
    await fs.writeFile(jwks, JSON.stringify({ keys: [] }));
    await fs.writeFile(certificate, 'eyJhbGciOiJFZERTQSJ9.e30.AAAA');
    const verify = await ehubLoading('verify-certificate', certificate, '--jwks', jwks);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/NOT valid/);
    expect(verify.loaded).toContain('src/certificates/certificate.verify.ts');
    expect(heavy(verify.loaded)).toEqual([]);

    // A command that only opens the database loads TypeORM and the entities (the probe sees
    // them when they load) but not the server: no Fastify, Apollo, app or schema.
    const migrate = await ehubLoading('migrate');
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toContain('up to date');
    expect(migrate.loaded).toEqual(expect.arrayContaining(['src/db/open-database.ts', expect.stringMatching(/^node_modules\/typeorm\//)]));
    const server = [/^node_modules\/fastify\//, /^node_modules\/@apollo\/server\//, /^src\/server\/(hub|app|schema)\.ts$/];
    expect(migrate.loaded.filter((f) => server.some((re) => re.test(f)))).toEqual([]);
  });

  it('migrate reports an up-to-date database', async () => {
    expect((await ehub('migrate')).stdout).toContain('up to date');
  });

  it('demo loads a sample catalog and accounts, and running it again changes nothing', async () => {
    await ehub('demo');
    const count = async () =>
      (await hub.ds.query(`SELECT (SELECT count(*) FROM product)::int AS p, (SELECT count(*) FROM account)::int AS a,
        (SELECT count(*) FROM contact)::int AS c, (SELECT count(*) FROM meter)::int AS m`))[0];
    const first = await count();
    expect(first.p).toBeGreaterThanOrEqual(8);
    expect(first.a).toBe(3);
    expect(first.c).toBeGreaterThanOrEqual(5);
    expect(first.m).toBeGreaterThanOrEqual(4);
    await ehub('demo');
    expect(await count()).toEqual(first);

    const data = await hub.ok<{ product: { isBundle: boolean; effectiveFeatures: { feature: { key: string }; limit: string | null }[] } }>(
      '{ product(sku: "SUITE-ENT") { isBundle effectiveFeatures { feature { key } limit } } }',
    );
    expect(data.product.isBundle).toBe(true);
    const byKey = Object.fromEntries(data.product.effectiveFeatures.map((f) => [f.feature.key, f.limit]));
    expect(Number(byKey['designer.render'])).toBe(5); // 5 × DSN-PRO
    expect(Number(byKey['analytics.dashboards'])).toBe(25); // 25 × ANL-CLOUD
    expect(byKey['analytics.export']).toBeNull(); // unlimited wins
    const acme = await hub.ok<{ accountByExternalRef: { name: string } }>(
      '{ accountByExternalRef(system: "salesforce", object: "Account", externalId: "001DEMO0000000001") { name } }',
    );
    expect(acme.accountByExternalRef.name).toBe('Acme Robotics');
  });

  it('keys create prints only the key on stdout, and refuses an unknown role', async () => {
    const { stdout } = await ehub('keys', 'create', '--name', 'cli test', '--role', 'finance');
    expect(stdout.trim()).toMatch(/^ehub_[a-z0-9]{8}_[A-Za-z0-9]{40}$/);
    expect((await hub.ok<{ me: { role: string } }>('{ me { role } }', {}, stdout.trim())).me.role).toBe('FINANCE');
    await expect(ehub('keys', 'create', '--name', 'x', '--role', 'root')).rejects.toMatchObject({ stderr: expect.stringContaining('Unknown role') });
  });

  it('keys create --expires takes a duration, keys list shows the expiry, a past date is refused', async () => {
    const before = Date.now();
    const { stdout } = await ehub('keys', 'create', '--name', 'expiring cli key', '--expires', '90d');
    const after = Date.now();
    const [row] = await hub.ds.query('SELECT expires_at FROM api_key WHERE prefix = $1', [stdout.trim().split('_')[1]]);
    const ninetyDays = 90 * 86_400_000;
    expect(row.expires_at.getTime()).toBeGreaterThanOrEqual(before + ninetyDays);
    expect(row.expires_at.getTime()).toBeLessThanOrEqual(after + ninetyDays);
    expect((await ehub('keys', 'list')).stdout).toContain(row.expires_at.toISOString());

    const keys = (await hub.ds.query('SELECT count(*)::int AS n FROM api_key'))[0].n;
    await expect(ehub('keys', 'create', '--name', 'x', '--expires', '2020-01-01')).rejects.toMatchObject({ stderr: expect.stringContaining('not in the future') });
    expect((await hub.ds.query('SELECT count(*)::int AS n FROM api_key'))[0].n).toBe(keys);
  });
});
