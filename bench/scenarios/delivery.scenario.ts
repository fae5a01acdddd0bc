import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DeliveryService } from '../../src/delivery/delivery.service';
import { childTransfer, MiB, rssGrowth, startS3 } from '../../test/delivery/delivery-support';
import type { BenchContext, Scenario } from '../support/types';
import { oneRunFigures } from '../support/batch';

const MB = Number(process.env.BENCH_ARTIFACT_MB ?? 2048);
const SIZE = MB * MiB;
const BUDGET = 100 * 1000 * 1000;

const mbps = (bytes: number, s: number) => Math.round(bytes / MiB / s);

/** Reads a file and hashes it (SHA-256, as the download client does): the floor of serving it. */
async function diskRead(file: string): Promise<{ seconds: number; sha256: string }> {
  const t = performance.now();
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { highWaterMark: 256 * 1024 })) h.update(c as Buffer);
  return { seconds: (performance.now() - t) / 1000, sha256: h.digest('hex') };
}

async function release(ctx: BenchContext, version: string): Promise<string> {
  const r = await ctx.hub.post(`mutation ($v: String!) { upsertRelease(input: { product: "BENCH-FW", version: $v, status: PUBLISHED }) { id } }`, { v: version });
  return (JSON.parse(r.text) as { data: { upsertRelease: { id: string } } }).data.upsertRelease.id;
}

async function uploadAndLink(ctx: BenchContext, releaseId: string) {
  // The client runs in a child process: the RSS measured here is the hub's.
  const up = await rssGrowth(() =>
    childTransfer('put', `${new URL(ctx.hub.url).origin}/v1/releases/${releaseId}/artifacts/bench-fw.img`, SIZE, {
      authorization: `Bearer ${ctx.hub.adminKey}`,
      'content-type': 'application/octet-stream',
      'content-length': String(SIZE),
    }),
  );
  const expected = { sha256: up.result.sha256, sha512: up.result.sha512 };
  if (up.result.status !== 201) throw new Error(`upload answered ${up.result.status}: ${(up.result.body ?? '').slice(0, 300)}`);
  const artifact = (JSON.parse(up.result.body!) as { artifact: { id: string; sha256: string; sha512: string; size: number } }).artifact;
  if (artifact.sha256 !== expected.sha256 || artifact.sha512 !== expected.sha512 || artifact.size !== SIZE) throw new Error('the hub recorded other digests than the bytes sent');
  const l = await ctx.hub.post(`mutation ($a: ID!) { createDownloadLink(input: { artifact: $a }) { url } }`, { a: artifact.id });
  const url = (JSON.parse(l.text) as { data: { createDownloadLink: { url: string } } }).data.createDownloadLink.url;
  return { artifact, expected, url, upSeconds: up.result.seconds, upRss: up.growthBytes };
}

/**
 * Issue 14: a 2 GiB artifact (BENCH_ARTIFACT_MB) uploaded and downloaded through the
 * filesystem store (hub-served signed link) and an S3-compatible store (s3rver in a child
 * process; multipart upload, presigned download), the hub's RSS growth measured in this
 * process (the hub's; the HTTP client runs in a child process) during each; download throughput compared with reading the same stored
 * file from disk in the same run (both hash SHA-256 as they read).
 */
export const delivery: Scenario = {
  name: 'delivery',
  description: `${MB} MiB artifact through the filesystem and S3 stores: upload, download vs disk read, RSS growth`,
  async run(ctx) {
    const { services } = ctx.hub;
    await ctx.hub.post(`mutation { upsertProduct(input: { sku: "BENCH-FW", name: "Bench firmware", kind: SOFTWARE, defaultModel: PERPETUAL, listPrice: { amountMinor: "1", currency: "USD" }, features: [] }) { id } }`);

    // Filesystem store.
    const fsRun = await uploadAndLink(ctx, await release(ctx, '1.0.0'));
    const u = new URL(fsRun.url);
    const down = await rssGrowth(() => childTransfer('get', new URL(ctx.hub.url).origin + u.pathname + u.search));
    const downSeconds = down.result.seconds;
    if (down.result.sha256 !== fsRun.expected.sha256 || down.result.size !== SIZE) throw new Error('fs download: other bytes than uploaded');
    const [row] = (await services.db.manager.query(`SELECT storage_key FROM release_artifact WHERE id = $1`, [fsRun.artifact.id])) as { storage_key: string }[];
    const disk = await diskRead(path.join(services.config.dataDir, 'artifacts', row!.storage_key));
    if (disk.sha256 !== fsRun.expected.sha256) throw new Error('the stored file differs from the upload');

    // S3-compatible store: the same routes with the hub's delivery switched to S3.
    const s3Dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-bench-s3-'));
    const s3 = await startS3(s3Dir, 'bench-artifacts');
    const original = services.delivery;
    let s3Figures;
    try {
      const config = {
        ...services.config,
        EHUB_ARTIFACT_STORE: 's3' as const,
        EHUB_S3_BUCKET: 'bench-artifacts',
        EHUB_S3_ENDPOINT: s3.endpoint,
        EHUB_S3_FORCE_PATH_STYLE: true,
        EHUB_S3_ACCESS_KEY_ID: 'S3RVER',
        EHUB_S3_SECRET_ACCESS_KEY: 'S3RVER',
      };
      services.delivery = new DeliveryService(services.db, config, services.certificates.signingKeys);
      const s3Run = await uploadAndLink(ctx, await release(ctx, '2.0.0'));
      const s3Down = await rssGrowth(() => childTransfer('get', s3Run.url));
      const s3DownSeconds = s3Down.result.seconds;
      if (s3Down.result.sha256 !== s3Run.expected.sha256 || s3Down.result.size !== SIZE) throw new Error('s3 download: other bytes than uploaded');
      s3Figures = { up: s3Run.upSeconds, upRss: s3Run.upRss, down: s3DownSeconds, downRss: s3Down.growthBytes };
    } finally {
      services.delivery = original;
      await s3.stop();
      await fs.rm(s3Dir, { recursive: true, force: true });
    }

    const mb = (b: number) => Math.round(b / 1e6);
    const lines = [
      `  fs: upload ${fsRun.upSeconds.toFixed(1)} s (${mbps(SIZE, fsRun.upSeconds)} MiB/s, RSS +${mb(fsRun.upRss)} MB); download ${downSeconds.toFixed(1)} s (${mbps(SIZE, downSeconds)} MiB/s, RSS +${mb(down.growthBytes)} MB); disk read of the same file ${disk.seconds.toFixed(1)} s (${mbps(SIZE, disk.seconds)} MiB/s): download/disk ${((disk.seconds / downSeconds) * 100).toFixed(0)} %`,
      `  s3 (s3rver, child process): upload ${s3Figures.up.toFixed(1)} s (${mbps(SIZE, s3Figures.up)} MiB/s, RSS +${mb(s3Figures.upRss)} MB); presigned download ${s3Figures.down.toFixed(1)} s (${mbps(SIZE, s3Figures.down)} MiB/s, RSS +${mb(s3Figures.downRss)} MB)`,
    ];
    console.error(lines.join('\n'));
    const over = [fsRun.upRss, down.growthBytes, s3Figures.upRss, s3Figures.downRss].some((g) => g >= BUDGET);
    if (over) throw new Error(`RSS grew by 100 MB or more:\n${lines.join('\n')}`);
    return oneRunFigures(1, downSeconds, 0, {
      value: mbps(SIZE, downSeconds),
      unit: `MiB/s hub-served download of ${MB} MiB (disk read ${mbps(SIZE, disk.seconds)} MiB/s, ${((disk.seconds / downSeconds) * 100).toFixed(0)} %); upload fs ${mbps(SIZE, fsRun.upSeconds)} MiB/s, s3 ${mbps(SIZE, s3Figures.up)} MiB/s; S3 presigned download ${mbps(SIZE, s3Figures.down)} MiB/s; RSS growth ≤ ${Math.max(mb(fsRun.upRss), mb(down.growthBytes), mb(s3Figures.upRss), mb(s3Figures.downRss))} MB`,
    });
  },
};
