import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
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

describe('ehub CLI', () => {
  jest.setTimeout(60_000);

  it('--help lists the commands', async () => {
    const { stdout } = await ehub('--help');
    for (const cmd of ['serve', 'migrate', 'keys', 'demo', 'schema']) expect(stdout).toContain(cmd);
    expect((await ehub('keys', '--help')).stdout).toMatch(/create[\s\S]*list[\s\S]*revoke/);
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
