/**
 * Where the client keeps its offline data (the latest certificate, the JWKS and the time of
 * the last successful contact with the hub). Values are strings; keys are fixed names.
 */
export interface OfflineStore {
  get(key: string): Promise<string | null> | string | null;
  set(key: string, value: string): Promise<void> | void;
}

/** The default: kept in memory for the life of the client. */
export class MemoryStore implements OfflineStore {
  private readonly values = new Map<string, string>();
  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  set(key: string, value: string): void {
    this.values.set(key, value);
  }
}

/** Browsers: `new WebStorageStore(window.localStorage)` (any object with getItem/setItem). */
export class WebStorageStore implements OfflineStore {
  constructor(
    private readonly storage: { getItem(key: string): string | null; setItem(key: string, value: string): void },
    private readonly prefix = 'ehub:',
  ) {}
  get(key: string): string | null {
    return this.storage.getItem(this.prefix + key);
  }
  set(key: string, value: string): void {
    this.storage.setItem(this.prefix + key, value);
  }
}
