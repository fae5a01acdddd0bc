import type { Readable } from 'node:stream';

/**
 * Where artifact bytes live. Two implementations: the data directory (default, nothing to
 * run) and any S3-compatible store. The hub streams through both: nothing holds a whole
 * artifact in memory.
 */
export interface ArtifactStore {
  readonly kind: 'fs' | 's3';
  /**
   * Streams `body` to `key`. The object appears only when the stream ended without error;
   * on any error (including one the stream itself raises, e.g. over the size limit) nothing
   * is kept and the error is rethrown.
   */
  put(key: string, body: Readable): Promise<void>;
  /** Deletes an object (no error when it is missing). */
  remove(key: string): Promise<void>;
}

/** The filesystem store serves bytes itself (the hub answers the signed link). */
export interface ServingStore extends ArtifactStore {
  readonly kind: 'fs';
  /** Bytes `start`..`end` (inclusive) of the object. */
  read(key: string, start: number, end: number): Readable;
  /** The object's size in bytes, or null when it is missing. */
  size(key: string): Promise<number | null>;
}

/** The S3 store hands out presigned URLs: the client fetches from S3, not through the hub. */
export interface PresigningStore extends ArtifactStore {
  readonly kind: 's3';
  presign(key: string, ttlSeconds: number, fileName: string): Promise<string>;
}

export type AnyStore = ServingStore | PresigningStore;
