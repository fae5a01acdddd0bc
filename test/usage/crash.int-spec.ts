import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Role } from '../../src/auth/role';
import { spawnServe } from '../support/serve-process';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount } from '../licensing/licensing-support';
import { eventCount, hoursAgo, ndjson, recomputedRollups, seedUsageCatalog, storedRollups, type UsageAnswer } from './usage-support';

/**
 * Exactly once across a crash: the real `ehub serve` on the test database is killed with
 * SIGKILL while batches are on the wire (one streaming slowly, others committing), then
 * restarted; every batch is sent again (twice), and every event must be counted once.
 */
let hub: TestHub;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-usage-crash-'));
  hub = await startTestHub();
  await seedUsageCatalog(hub);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
  await hub?.close();
});

async function serve(): Promise<{ proc: ChildProcess; url: string; exited: Promise<unknown> }> {
  const { EHUB_ADMIN_KEY: _a, ...rest } = process.env;
  const env = {
    ...rest,
    DATABASE_URL: hub.databaseUrl,
    EHUB_DATA_DIR: dataDir,
    EHUB_JOBS_ENABLED: 'false',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    NODE_OPTIONS: '',
  };
  const { proc, url, exited } = await spawnServe(env);
  children.push(proc);
  return { proc, url, exited };
}

async function post(url: string, key: string, body: string): Promise<UsageAnswer> {
  const res = await fetch(`${url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key}` }, body });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as UsageAnswer;
}

/** Streams `body` in `parts` pieces with a pause between them; resolves when the request ends one way or another. */
function postSlowly(url: string, key: string, body: string, parts: number, pauseMs: number, onPart: (n: number) => void): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request(`${url}/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key}`, 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(`answered ${res.statusCode}: ${text}`));
      res.on('error', (err) => resolve(`response failed: ${err.message}`));
    });
    req.on('error', (err) => resolve(`request failed: ${err.message}`));
    const size = Math.ceil(body.length / parts);
    let n = 0;
    const next = () => {
      if (req.destroyed) return;
      if (n >= parts) {
        req.end();
        return;
      }
      req.write(body.slice(n * size, (n + 1) * size));
      onPart(++n);
      setTimeout(next, pauseMs);
    };
    next();
  });
}

describe('exactly once across a SIGKILL', () => {
  jest.setTimeout(180_000);

  it('counts every event once when batches are sent again after the server was killed mid-request', async () => {
    const account = await createAccount(hub, 'Crash');
    const key = await hub.createKey(Role.INTEGRATION, account);
    const batch = (name: string, size: number) =>
      Array.from({ length: size }, (_, i) => ({
        id: `${name}-${i}`,
        source: 'crash-test',
        accountId: account,
        meter: i % 3 ? 'u.calls' : 'u.users',
        quantity: (i % 5) + 1,
        user: `user-${i % 11}`,
        occurredAt: hoursAgo((i % 200) * 0.7),
        deployment: 'ON_PREM',
      }));
    const slow = batch('slow', 5_000);
    const fast = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'].map((n) => batch(n, 2_000));
    const unique = slow.length + fast.reduce((n, b) => n + b.length, 0);

    const first = await serve();
    // Warm up (the first request compiles the paths), then put everything on the wire.
    expect((await post(first.url, key, ndjson(batch('warm', 10)))).accepted).toBe(10);
    let killed = false;
    const fastDone: Promise<string>[] = [];
    const send = (b: unknown[]) =>
      fastDone.push(
        post(first.url, key, ndjson(b)).then(
          (a) => `answered: ${a.accepted} accepted`,
          (err: Error) => `lost: ${(err.cause as Error | undefined)?.message ?? err.message}`,
        ),
      );
    const slowDone = postSlowly(first.url, key, ndjson(slow), 20, 100, (n) => {
      // While the slow body streams, the fast batches go out two by two; then, with some of
      // them still being ingested and half of the slow body sent: kill -9.
      if (n >= 7 && n <= 9) for (const b of fast.slice((n - 7) * 2, (n - 6) * 2)) send(b);
      if (n === 10 && !killed) {
        killed = true;
        setTimeout(() => first.proc.kill('SIGKILL'), 30);
      }
    });
    expect(await slowDone).toMatch(/request failed|response failed/);
    const fastOutcomes = await Promise.all(fastDone);
    expect(fastOutcomes).toHaveLength(fast.length);
    await first.exited;
    expect(killed).toBe(true);
    // The slow batch never completed: none of it was taken. Some fast ones may have been.
    const [{ n: slowStored }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event WHERE account_id = $1 AND event_id LIKE 'slow-%'`, [account]);
    expect(slowStored).toBe(0);
    const storedBefore = (await eventCount(hub, account)) - 10;
    expect(storedBefore).toBeLessThan(unique);

    // Restart and send everything again, twice: the first resend completes what is missing.
    const second = await serve();
    let accepted = 0;
    for (let round = 0; round < 2; round++) {
      for (const b of [slow, ...fast]) {
        const a = await post(second.url, key, ndjson(b));
        expect(a.rejected).toEqual([]);
        expect(a.accepted + a.duplicates).toBe(b.length);
        if (round === 1) expect(a.accepted).toBe(0);
        accepted += a.accepted;
      }
    }
    expect({ outcomes: fastOutcomes, total: storedBefore + accepted }).toEqual({ outcomes: fastOutcomes, total: unique });
    expect(await eventCount(hub, account)).toBe(unique + 10);
    const [{ sum }] = await hub.ds.query(
      `SELECT trim_scale(sum(sum))::text AS sum FROM usage_rollup r JOIN meter m ON m.id = r.meter_id WHERE r.account_id = $1 AND m.key = 'u.calls' AND r.granularity = 'D'`,
      [account],
    );
    const expectedSum = [...slow, ...fast.flat(), ...batch('warm', 10)].filter((e) => e.meter === 'u.calls').reduce((n, e) => n + e.quantity, 0);
    expect(sum).toBe(String(expectedSum));
    expect(await storedRollups(hub.ds, [account])).toEqual(await recomputedRollups(hub.ds, [account]));
    second.proc.kill('SIGTERM');
    await second.exited;
  });
});
