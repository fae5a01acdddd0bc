import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';

export const MiB = 1024 * 1024;

/**
 * `total` deterministic bytes as a stream of 1 MiB chunks (a random block with the chunk
 * number written into its first bytes), hashed as they are produced: the test's own
 * expected digests, never the hub's. Nothing is held but one chunk.
 */
export function generatedBytes(total: number): { stream: Readable; digests: () => { size: number; sha256: string; sha512: string } } {
  const block = randomBytes(MiB);
  const a = createHash('sha256');
  const b = createHash('sha512');
  let sent = 0;
  let n = 0;
  const stream = new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= total) return this.push(null);
      const len = Math.min(MiB, total - sent);
      const chunk = Buffer.allocUnsafe(len);
      block.copy(chunk, 0, 0, len);
      if (len >= 8) chunk.writeBigUInt64BE(BigInt(n++), 0);
      sent += len;
      a.update(chunk);
      b.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digests: () => ({ size: sent, sha256: a.digest('hex'), sha512: b.digest('hex') }) };
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** PUT a stream (or bytes) to the hub. */
export function put(url: string, body: Readable | Buffer, headers: Record<string, string>): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    // The raw path is sent as given (new URL would resolve dot segments such as %2E%2E).
    const origin = new URL(url);
    const rawPath = url.slice(origin.origin.length);
    const req = http.request({ host: origin.hostname, port: origin.port, path: rawPath, method: 'PUT', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

export interface Streamed {
  status: number;
  headers: http.IncomingHttpHeaders;
  size: number;
  sha256: string;
  sha512: string;
  /** The body when it was small (under 1 MiB), for error answers. */
  text: string;
}

/**
 * GET `url`, hashing the body as it arrives. `stopAfter`: destroy the connection once that
 * many bytes arrived (an interrupted download); `keep`: where to append the bytes received.
 */
export function get(url: string, headers: Record<string, string> = {}, opts: { stopAfter?: number; onChunk?: (c: Buffer) => void } = {}): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const a = createHash('sha256');
      const b = createHash('sha512');
      let size = 0;
      const small: Buffer[] = [];
      const finish = () => resolve({ status: res.statusCode!, headers: res.headers, size, sha256: a.digest('hex'), sha512: b.digest('hex'), text: size < MiB ? Buffer.concat(small).toString('utf8') : '' });
      res.on('data', (c: Buffer) => {
        if (opts.stopAfter !== undefined && size >= opts.stopAfter) return;
        const take = opts.stopAfter !== undefined ? c.subarray(0, opts.stopAfter - size) : c;
        size += take.length;
        a.update(take);
        b.update(take);
        opts.onChunk?.(take);
        if (size < MiB) small.push(take);
        if (opts.stopAfter !== undefined && size >= opts.stopAfter) {
          req.destroy();
          finish();
        }
      });
      res.on('end', finish);
      res.on('error', (err) => (opts.stopAfter !== undefined ? undefined : reject(err)));
    });
    req.on('error', (err) => (opts.stopAfter !== undefined ? undefined : reject(err)));
  });
}

/** The highest RSS of this process while `fn` runs, minus the RSS before it (sampled every 20 ms). */
export async function rssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growthBytes: number; peak: number; before: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growthBytes: peak - before, peak, before };
  } finally {
    clearInterval(timer);
  }
}

/**
 * An S3-compatible server (@20minutes/s3rver) in a child process, so its memory is not
 * counted as the hub's. Credentials S3RVER / S3RVER; one bucket.
 */
export async function startS3(directory: string, bucket: string): Promise<{ endpoint: string; stop: () => Promise<void>; child: ChildProcess }> {
  const script = `
    const S3rver = require('@20minutes/s3rver');
    new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: ${JSON.stringify(directory)}, configureBuckets: [{ name: ${JSON.stringify(bucket)} }] })
      .run().then((a) => console.log('LISTENING ' + a.port), (e) => { console.error(e); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code})`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface ClientResult {
  status: number;
  size: number;
  sha256: string;
  sha512: string;
  seconds: number;
  body?: string;
  error?: string;
}

/**
 * Runs an upload (`put`: `bytes` generated bytes) or a download (`get`) in a child process
 * (transfer-client.mjs), so the RSS measured in this process is the hub's alone.
 */
export function childTransfer(mode: 'put' | 'get', url: string, bytes = 0, headers: Record<string, string> = {}): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'transfer-client.mjs'), mode, url, String(bytes), JSON.stringify(headers)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      try {
        const r = JSON.parse(out.trim().split('\n').at(-1)!) as ClientResult;
        if (r.error) reject(new Error(`transfer client: ${r.error}`));
        else resolve(r);
      } catch {
        reject(new Error(`transfer client printed no result: ${out.slice(0, 300)}`));
      }
    });
  });
}
