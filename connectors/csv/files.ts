import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CsvObject } from './options';

/** A file waiting in (or already taken from) an object's inbox folder. */
export interface InboxFile {
  path: string;
  name: string;
  /** sha256 of the bytes, hex: the file's identity (two copies of one file are one import). */
  sha256: string;
  size: number;
  modifiedAt: string;
}

const CONTENT_ADDRESSED = /^[0-9a-f]{64}\.csv$/;

export function objectDir(inboxDir: string, object: CsvObject): string {
  return join(inboxDir, object);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * The `.csv` files of an object's folder, oldest first (by modification time, then name).
 * Dot-files and other extensions are ignored, so a writer that renames a finished file into
 * place is never read half-written. Files the hub stored itself are named by their hash; the
 * others are hashed here.
 */
export async function listInbox(inboxDir: string, object: CsvObject): Promise<InboxFile[]> {
  const dir = objectDir(inboxDir, object);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: (InboxFile & { mtimeMs: number })[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !name.toLowerCase().endsWith('.csv')) continue;
    const path = join(dir, name);
    const s = await stat(path);
    if (!s.isFile()) continue;
    const sha256 = CONTENT_ADDRESSED.test(name) ? name.slice(0, 64) : await sha256File(path);
    files.push({ path, name, sha256, size: s.size, modifiedAt: s.mtime.toISOString(), mtimeMs: s.mtimeMs });
  }
  files.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return files.map(({ mtimeMs: _, ...f }) => f);
}

export type StoreOutcome = { kind: 'stored' | 'duplicate'; sha256: string; bytes: number; path: string } | { kind: 'too-large'; bytes: number };

/**
 * Streams an upload into the object's inbox as `<sha256>.csv` (content-addressed: the same
 * bytes uploaded again are recognised as a duplicate). The body goes to a dot-file first and
 * is renamed into place only when complete, so a pull never reads a partial upload. Over
 * `maxBytes` it stops reading and keeps nothing.
 */
export async function storeUpload(inboxDir: string, object: CsvObject, body: Readable, maxBytes: number): Promise<StoreOutcome> {
  const dir = objectDir(inboxDir, object);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.upload-${randomUUID()}`);
  const hash = createHash('sha256');
  let bytes = 0;
  let tooLarge = false;
  const out = createWriteStream(tmp, { flags: 'wx' });
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes) {
            tooLarge = true;
            return;
          }
          hash.update(chunk);
          yield chunk;
        }
      },
      out,
    );
    if (tooLarge) {
      body.resume();
      await rm(tmp, { force: true });
      return { kind: 'too-large', bytes };
    }
    const sha256 = hash.digest('hex');
    const path = join(dir, `${sha256}.csv`);
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) {
      await rm(tmp, { force: true });
      return { kind: 'duplicate', sha256, bytes, path };
    }
    await rename(tmp, path);
    return { kind: 'stored', sha256, bytes, path };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
