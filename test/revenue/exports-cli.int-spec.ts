import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from '../support/test-hub';
import { seedWorkedExample, type SeededExample } from './exports-seed';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];

let hub: TestHub;
let ex: SeededExample;
beforeAll(async () => {
  hub = await startTestHub();
  ex = await seedWorkedExample(hub.ds);
});
afterAll(async () => hub?.close());

function ehub(...args: string[]) {
  return run(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: hub.databaseUrl, NODE_OPTIONS: '', LOG_LEVEL: 'warn' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function route(path: string): Promise<string> {
  const res = await fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('ehub export revenue', () => {
  jest.setTimeout(60_000);

  it('writes the same CSV as the routes, to stdout or to a file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-export-'));
    try {
      const waterfall = await route('/v1/exports/revenue-waterfall.csv?from=2027-01&to=2027-06');
      expect((await ehub('export', 'revenue', 'waterfall', '--from', '2027-01', '--to', '2027-06')).stdout).toBe(waterfall);

      const out = path.join(dir, 'journal.csv');
      await ehub('export', 'revenue', 'journal', '--from', '2027-01', '--to', '2027-06', '--account', ex.accountId, '--out', out);
      const journal = await route(`/v1/exports/journal-entries.csv?from=2027-01&to=2027-06&accountId=${ex.accountId}`);
      expect(journal.split('\r\n').length).toBeGreaterThan(10);
      expect(await fs.readFile(out, 'utf8')).toBe(journal);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad input with the API message, and an unknown kind', async () => {
    await expect(ehub('export', 'revenue', 'waterfall', '--from', '2027-05', '--to', '2027-01')).rejects.toMatchObject({
      stderr: expect.stringContaining('EXPORT_RANGE_REVERSED'),
    });
    await expect(ehub('export', 'revenue', 'ledger', '--from', '2027-01', '--to', '2027-01')).rejects.toMatchObject({
      stderr: expect.stringContaining('Unknown export "ledger"'),
    });
  });
});
