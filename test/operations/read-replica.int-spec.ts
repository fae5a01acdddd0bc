import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { startHub, type Hub } from '../../src/server/hub';
import { startPrimaryWithReplica, type PrimaryWithReplica } from '../support/replica';
import type { TestHub } from '../support/test-hub';
import { createAccount } from '../licensing/licensing-support';
import { postUsage, seedUsageCatalog } from '../usage/usage-support';

/**
 * Read replicas for analytics (issue 15, ADR 0051): the real `serve` path with
 * DATABASE_URL on a primary and DATABASE_READ_URL on a hot standby fed by streaming
 * replication. The analytics queries are answered by the standby (as of its replay: with
 * replay paused, new usage is not there yet, while the primary has it), a write can never go
 * through the read pool, and a standby that is down sends analytics to the primary instead
 * of failing them.
 */
jest.setTimeout(120_000);
let rep: PrimaryWithReplica;
let hub: Hub;
let api: TestHub;
let dataDir: string;
let account: string;
const from = new Date(Date.now() - 3 * 86_400_000).toISOString();
const to = new Date(Date.now() + 86_400_000).toISOString();
let n = 0;

const SERIES = `query($a: ID, $from: DateTimeISO!, $to: DateTimeISO!) { usageSeries(filter: { accountId: $a, meter: "u.calls" }, from: $from, to: $to) { series { points { value } } } }`;
const total = async () => {
  const r = await api.ok<{ usageSeries: { series: { points: { value: string }[] }[] } }>(SERIES, { a: account, from, to });
  return r.usageSeries.series.flatMap((s) => s.points).reduce((x, p) => x + Number(p.value), 0);
};
const ingest = async (quantities: number[]) => {
  const res = await postUsage(api, quantities.map((q) => ({ id: `rr-${n++}`, accountId: account, meter: 'u.calls', quantity: q, occurredAt: new Date(Date.now() - 3_600_000).toISOString(), deployment: 'CLOUD' })));
  expect(res.body).toMatchObject({ accepted: quantities.length, rejected: [] });
};

beforeAll(async () => {
  rep = await startPrimaryWithReplica(['ehub']);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-replica-hub-'));
  hub = await startHub(
    loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: rep.primary.url('ehub'),
      DATABASE_READ_URL: rep.replicaUrl('ehub'),
      EHUB_DATA_DIR: dataDir,
      EHUB_JOBS_ENABLED: 'false',
      PORT: '0',
      HOST: '127.0.0.1',
      EHUB_RATE_LIMIT_MAX: '1000000',
    }),
  );
  // No key existed: serve generated an admin key into the data folder.
  const adminKey = fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim();
  api = {
    url: hub.url,
    adminKey,
    async ok<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const res = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data: T; errors?: unknown[] };
      if (body.errors?.length) throw new Error(JSON.stringify(body.errors));
      return body.data;
    },
  } as unknown as TestHub;
  await seedUsageCatalog(api);
  account = await createAccount(api, 'Replica Co');
});
afterAll(async () => {
  await hub?.stop();
  await rep?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('DATABASE_READ_URL: analytics on a streaming replica', () => {
  it('usageSeries is answered by the standby, as of its replay', async () => {
    await ingest([1, 2, 3, 4]);
    await rep.caughtUp();
    const before = { ...hub.services.db.replica };
    expect(await total()).toBe(10);
    expect(hub.services.db.replica.reads).toBeGreaterThan(before.reads);
    expect(hub.services.db.replica.fallbacks).toBe(before.fallbacks);

    // Replay paused: the primary has the new events (licensing and ingest read it), the standby not yet.
    await rep.pauseReplay();
    await ingest([100]);
    const [{ sum }] = await hub.services.db.manager.query(`SELECT sum(quantity)::int AS sum FROM usage_event WHERE account_id = $1`, [account]);
    expect(sum).toBe(110);
    expect(await total()).toBe(10);
    await rep.resumeReplay();
    await rep.caughtUp();
    expect(await total()).toBe(110);
  });

  it('the read pool cannot write', async () => {
    await expect(hub.services.db.readQuery(`UPDATE account SET name = name WHERE id = $1`, [account])).rejects.toMatchObject({ driverError: { code: '25006' } });
  });

  it('a standby that is down sends analytics to the primary instead of failing them, and /metrics says so', async () => {
    await rep.stopReplica();
    await ingest([1000]);
    const fallbacks = hub.services.db.replica.fallbacks;
    expect(await total()).toBe(1110); // the primary's answer: current
    expect(hub.services.db.replica.fallbacks).toBeGreaterThan(fallbacks);
    const metrics = await (await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${api.adminKey}` } })).text();
    expect(metrics).toMatch(/ehub_db_replica_reads\{answered_by="primary"\} [1-9]/);
    expect(metrics).toMatch(/ehub_db_replica_reads\{answered_by="replica"\} [1-9]/);
  });
});
