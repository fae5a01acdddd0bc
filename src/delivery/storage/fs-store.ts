import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ServingStore } from './store';

/**
 * Artifacts in a directory (default `<EHUB_DATA_DIR>/artifacts`). An upload is written to
 * `tmp/` first and renamed into place once complete, so a broken or refused upload never
 * leaves a partial file where downloads look.
 */
export class FsArtifactStore implements ServingStore {
  readonly kind = 'fs' as const;

  constructor(readonly root: string) {}

  private file(key: string): string {
    const file = path.resolve(this.root, key);
    // Keys are built by the hub from ids and a checked file name; this is a second line of defence.
    if (!file.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`artifact key ${JSON.stringify(key)} leaves the store`);
    return file;
  }

  async put(key: string, body: Readable): Promise<void> {
    const final = this.file(key);
    const tmpDir = path.join(this.root, 'tmp');
    await fs.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${randomUUID()}.part`);
    try {
      await pipeline(body, createWriteStream(tmp, { flags: 'wx', mode: 0o640 }));
      await fs.mkdir(path.dirname(final), { recursive: true });
      await fs.rename(tmp, final);
    } catch (err) {
      body.destroy();
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true });
  }

  read(key: string, start: number, end: number): Readable {
    return createReadStream(this.file(key), { start, end, highWaterMark: 256 * 1024 });
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await fs.stat(this.file(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
}
