/**
 * Node only (entry point `@entitlement-hub/client/file-store`): keeps the offline data in one
 * JSON file, written atomically (temporary file, then rename).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OfflineStore } from './store';

export class FileStore implements OfflineStore {
  private cache: Record<string, string> | null = null;
  private writing: Promise<void> = Promise.resolve();
  constructor(private readonly path: string) {}

  private async load(): Promise<Record<string, string>> {
    if (this.cache) return this.cache;
    try {
      const parsed: unknown = JSON.parse(await readFile(this.path, 'utf8'));
      this.cache = parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
    } catch {
      this.cache = {};
    }
    return this.cache;
  }

  async get(key: string): Promise<string | null> {
    return (await this.load())[key] ?? null;
  }

  async set(key: string, value: string): Promise<void> {
    const values = await this.load();
    values[key] = value;
    const text = JSON.stringify(values);
    this.writing = this.writing.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${Date.now()}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.path);
    });
    await this.writing;
  }
}
