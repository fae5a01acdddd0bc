import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestHub, type TestHub } from '../support/test-hub';
import { childTransfer, get, MiB, rssGrowth, startS3 } from './delivery-support';

/**
 * Artifacts stream through both stores: the hub (this process) uploads and serves an artifact
 * far larger than the RSS budget while its RSS grows by less than 100 MB. The size here is
 * EHUB_TEST_ARTIFACT_MB (default 160 MiB, 1.6 × the budget, to keep npm test short); `npm run bench -- --only
 * delivery` runs the 2 GiB case. The S3-compatible server (@20minutes/s3rver) runs in a child
 * process, and so does the HTTP client (transfer-client.mjs), so that neither's memory is
 * counted as the hub's.
 */
const SIZE = Number(process.env.EHUB_TEST_ARTIFACT_MB ?? 160) * MiB;
const BUDGET = 100 * 1000 * 1000;
const BUCKET = 'ehub-artifacts';

let fsHub: TestHub;
let s3Hub: TestHub;
let s3: Awaited<ReturnType<typeof startS3>>;
let s3Dir: string;
beforeAll(async () => {
  s3Dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-s3rver-'));
  s3 = await startS3(s3Dir, BUCKET);
  fsHub = await startTestHub();
  s3Hub = await startTestHub({
    EHUB_ARTIFACT_STORE: 's3',
    EHUB_S3_BUCKET: BUCKET,
    EHUB_S3_ENDPOINT: s3.endpoint,
    EHUB_S3_FORCE_PATH_STYLE: 'true',
    EHUB_S3_ACCESS_KEY_ID: 'S3RVER',
    EHUB_S3_SECRET_ACCESS_KEY: 'S3RVER',
  });
});
afterAll(async () => {
  await fsHub?.close();
  await s3Hub?.close();
  await s3?.stop();
  await fs.rm(s3Dir, { recursive: true, force: true });
});

async function publishedRelease(hub: TestHub): Promise<string> {
  await hub.ok(`mutation { upsertProduct(input: { sku: "GW-FW", name: "Gateway firmware", kind: SOFTWARE, defaultModel: PERPETUAL, listPrice: { amountMinor: "1", currency: "USD" }, features: [] }) { id } }`);
  const r = await hub.ok<{ upsertRelease: { id: string } }>(`mutation { upsertRelease(input: { product: "GW-FW", version: "4.0.0", status: PUBLISHED }) { id } }`);
  return r.upsertRelease.id;
}

async function roundTrip(hub: TestHub, fetchUrl: (url: string) => string) {
  const releaseId = await publishedRelease(hub);
  // A 32 MiB warm-up first (not measured): the heap and buffer pools the transfer path needs
  // at all are then in place, and what is measured is what grows with the size.
  const warm = await childTransfer('put', `${hub.url}/v1/releases/${releaseId}/artifacts/warm-up.img`, 32 * MiB, {
    authorization: `Bearer ${hub.adminKey}`,
    'content-type': 'application/octet-stream',
  });
  expect(warm.status).toBe(201);
  // The client runs in a child process: what grows here is the hub's memory.
  const up = await rssGrowth(() =>
    childTransfer('put', `${hub.url}/v1/releases/${releaseId}/artifacts/gw-fw-4.0.0.img`, SIZE, {
      authorization: `Bearer ${hub.adminKey}`,
      'content-type': 'application/octet-stream',
      'content-length': String(SIZE),
    }),
  );
  const expected = { size: up.result.size, sha256: up.result.sha256, sha512: up.result.sha512 };
  expect(up.result.status).toBe(201);
  expect(expected.size).toBe(SIZE);
  const artifact = JSON.parse(up.result.body!).artifact;
  expect({ size: artifact.size, sha256: artifact.sha256, sha512: artifact.sha512 }).toEqual(expected);

  const link = (
    await hub.ok<{ createDownloadLink: { url: string; store: string } }>(`mutation ($a: ID!) { createDownloadLink(input: { artifact: $a }) { url store } }`, { a: artifact.id })
  ).createDownloadLink;
  const down = await rssGrowth(() => childTransfer('get', fetchUrl(link.url)));
  expect({ status: down.result.status, size: down.result.size, sha256: down.result.sha256, sha512: down.result.sha512 }).toEqual({ status: 200, ...expected });
  const figures = {
    store: link.store,
    mib: SIZE / MiB,
    uploadSeconds: up.result.seconds,
    downloadSeconds: down.result.seconds,
    uploadRssGrowthMB: Math.round(up.growthBytes / 1e6),
    downloadRssGrowthMB: Math.round(down.growthBytes / 1e6),
  };
  console.log(JSON.stringify(figures));
  expect(up.growthBytes).toBeLessThan(BUDGET);
  expect(down.growthBytes).toBeLessThan(BUDGET);
  return { link, artifact };
}

describe('streaming through the stores', () => {
  jest.setTimeout(600_000);

  it('filesystem store: uploads and serves the artifact with the RSS growing by less than 100 MB', async () => {
    await roundTrip(fsHub, (url) => fsHub.url + new URL(url).pathname + new URL(url).search);
  });

  it('S3-compatible store: multipart upload and a presigned download, RSS under 100 MB; an altered presigned URL is refused', async () => {
    const { link } = await roundTrip(s3Hub, (url) => url);
    expect(link.store).toBe('s3');
    expect(link.url.startsWith(`${s3.endpoint}/${BUCKET}/artifacts/`)).toBe(true);
    expect(link.url).toContain('X-Amz-Signature=');
    expect(link.url).not.toContain('ehub_');
    const altered = new URL(link.url);
    const sig = altered.searchParams.get('X-Amz-Signature')!;
    altered.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    expect((await get(altered.toString())).status).toBe(403);
    // Logged when made (a presigned download happens at S3, out of the hub's sight).
    expect((await s3Hub.ds.query(`SELECT event, store FROM download_log`)) as unknown[]).toEqual([{ event: 'LINK_CREATED', store: 's3' }]);
  });
});
