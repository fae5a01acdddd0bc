import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { SecretBox } from '../../src/common/secret-box';
import { loadConfig } from '../../src/config';
import { systemContext } from '../../src/common/context';
import { rotateSecrets, SEALED_COLUMNS } from '../../src/db/secret-rotation';
import { createServices } from '../../src/server/services';
import { startTestHub, type TestHub } from '../support/test-hub';
import { scratchDir } from '../support/scratch';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];
const OLD = 'old-secret-key-0123456789abcdefghijklmnop';
const NEW = 'new-secret-key-ZYXWVUTSRQPONMLKJIHGFEDCBA';
const dataDir = scratchDir('ehub-rotate-');
const log = pino({ level: 'silent' });

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_SECRET_KEY: OLD });
});
afterAll(async () => hub?.close());

/** Every stored secret, opened with `box` (or the error message). */
async function openAll(box: SecretBox): Promise<string[]> {
  const out: string[] = [];
  for (const { table, column, context } of SEALED_COLUMNS) {
    const rows: { id: string; v: Buffer }[] = await hub.ds.query(`SELECT id::text AS id, ${column} AS v FROM ${table} WHERE ${column} IS NOT NULL ORDER BY id`);
    for (const r of rows) out.push(await box.open(r.v, context(r.id)).catch((e: Error) => `unreadable: ${e.message.slice(0, 40)}`));
  }
  return out.sort();
}

const connection = (name: string, clientSecret: string) => ({
  name,
  type: 'salesforce',
  options: { auth: 'client_credentials', loginUrl: 'http://127.0.0.1:9', clientId: 'x' },
  credentials: { clientSecret },
  enabled: false,
  pullEnabled: true,
  pushEnabled: true,
  renewalDays: 90,
  maxAttempts: 8,
});

describe('EHUB_SECRET_KEY rotation', () => {
  jest.setTimeout(180_000);

  it('reads old and new ciphertexts with both keys, re-encrypts everything, and then needs only the new key', async () => {
    // Under the old key: a connection's credentials, an endpoint's secret and its previous one.
    await hub.services.sync.createConnection(systemContext(log, 'test'), connection('sf-old', 'old-cs') as never);
    const ep = await hub.ok<{ createWebhookEndpoint: { endpoint: { id: string } } }>(
      `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } } }`,
      { i: { url: 'http://127.0.0.1:9/hook', eventTypes: ['*'] } },
    );
    await hub.ok(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { endpoint { id } } }`, { id: ep.createWebhookEndpoint.endpoint.id });

    // A hub deployed with the new key and the old one as previous writes under the new key...
    const both = loadConfig({ DATABASE_URL: hub.databaseUrl, EHUB_DATA_DIR: dataDir, EHUB_SECRET_KEY: NEW, EHUB_SECRET_KEY_PREVIOUS: OLD });
    const rotating = createServices(hub.services.db, both);
    await rotating.sync.createConnection(systemContext(log, 'test'), connection('sf-new', 'new-cs') as never);
    // ...and reads both old and new ciphertexts.
    const before = await openAll(new SecretBox(both));
    expect(before.filter((s) => s.startsWith('unreadable'))).toEqual([]);
    expect(before).toEqual(expect.arrayContaining([JSON.stringify({ clientSecret: 'old-cs' }), JSON.stringify({ clientSecret: 'new-cs' })]));
    expect(before).toHaveLength(4);
    // The new key alone cannot read the old ones yet.
    expect((await openAll(new SecretBox({ EHUB_SECRET_KEY: NEW, dataDir }))).filter((s) => s.startsWith('unreadable'))).toHaveLength(3);

    const env = { ...process.env, DATABASE_URL: hub.databaseUrl, EHUB_DATA_DIR: dataDir, EHUB_SECRET_KEY: NEW, EHUB_SECRET_KEY_PREVIOUS: OLD, NODE_OPTIONS: '', LOG_LEVEL: 'warn' };
    const { stdout } = await run(process.execPath, [...CLI, 'secrets', 'rotate', '--batch', '1'], { cwd: ROOT, env });
    expect(stdout).toMatch(/Re-encrypted 3 stored secret/);

    // After the rotation the old key is no longer needed: the new key alone reads every value.
    expect(await openAll(new SecretBox({ EHUB_SECRET_KEY: NEW, dataDir }))).toEqual(before);
    expect((await openAll(new SecretBox({ EHUB_SECRET_KEY: OLD, dataDir }))).every((s) => s.startsWith('unreadable'))).toBe(true);
    // Running it again finds nothing to do.
    const again = await rotateSecrets(hub.ds, new SecretBox(both), log);
    expect(Object.values(again.rotated)).toEqual([0, 0, 0]);
    expect(again.failures).toEqual([]);
  });

  it('refuses to rotate without EHUB_SECRET_KEY', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: hub.databaseUrl, EHUB_DATA_DIR: dataDir, NODE_OPTIONS: '', LOG_LEVEL: 'warn' };
    delete env.EHUB_SECRET_KEY;
    await expect(run(process.execPath, [...CLI, 'secrets', 'rotate'], { cwd: ROOT, env })).rejects.toMatchObject({ stderr: expect.stringMatching(/Set EHUB_SECRET_KEY/) });
  });
});
