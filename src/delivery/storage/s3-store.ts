import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { PresigningStore } from './store';

export interface S3StoreOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Prefix of every key (default `artifacts/`). */
  prefix?: string;
  /** Multipart part size in bytes (default 16 MiB; S3's minimum is 5 MiB). */
  partBytes?: number;
}

/**
 * Any S3-compatible store (AWS, MinIO, Ceph, R2...). Uploads are multipart through one reused
 * part buffer (16 MiB by default), so a multi-GB artifact needs no more; a failed or
 * refused upload is aborted, leaving nothing. Downloads are presigned GET URLs.
 */
export class S3ArtifactStore implements PresigningStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partBytes: number;

  constructor(opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? 'artifacts/';
    this.partBytes = Math.max(opts.partBytes ?? 16 * 1024 * 1024, 5 * 1024 * 1024);
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle ?? false,
      credentials: opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
    });
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  async put(key: string, body: Readable): Promise<void> {
    const Key = this.key(key);
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ContentType: 'application/octet-stream' }));
    const UploadId = created.UploadId!;
    const parts: CompletedPart[] = [];
    try {
      // One part buffer, reused: a part is copied in as chunks arrive and uploaded when full.
      const part = Buffer.allocUnsafe(this.partBytes);
      let held = 0;
      const flush = async () => {
        const PartNumber = parts.length + 1;
        const Body = part.subarray(0, held);
        const r = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber, Body, ContentLength: held }));
        parts.push({ PartNumber, ETag: r.ETag });
        held = 0;
      };
      // for-await pulls the next chunk only after the part upload finished: back-pressure on the client.
      for await (const chunk of body) {
        let c = chunk as Buffer;
        while (c.length > 0) {
          const n = Math.min(c.length, this.partBytes - held);
          c.copy(part, held, 0, n);
          held += n;
          c = c.subarray(n);
          if (held === this.partBytes) await flush();
        }
      }
      if (parts.length === 0) {
        // An empty or small artifact: one plain PUT (a multipart upload needs at least one part).
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }));
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: part.subarray(0, held), ContentLength: held, ContentType: 'application/octet-stream' }));
        return;
      }
      if (held > 0) await flush();
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      body.destroy();
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  presign(key: string, ttlSeconds: number, fileName: string): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.key(key),
      ResponseContentDisposition: `attachment; filename="${fileName}"`,
    });
    return getSignedUrl(this.client, command, { expiresIn: ttlSeconds });
  }
}
