import { parentPort, workerData } from 'node:worker_threads';
import { Client } from 'pg';
import { openExport, type ExportKind, type ExportRange, type GlCodes } from './export-csv';

/*
 * One finance export in a worker thread of its own (ADR 0062; started by export-thread.ts):
 * its own connection, the same cursor and CSV code as the hub's thread (export-csv.ts), and
 * a young generation of its own size, so a million rows of short-lived strings do not grow
 * the hub's. The CSV goes to the hub as UTF-8 bytes, a chunk at a time, moved (transferred)
 * rather than copied; the hub gives credit for the next chunks as its reply drains, so
 * back-pressure reaches the cursor. Imports nothing heavy (no GraphQL, no ORM): what it
 * loads is what it costs.
 */

/** What the hub hands the worker. */
export interface ExportJob {
  kind: ExportKind;
  range: ExportRange;
  /** The hub's database URL (the primary: exports read there, as before). */
  url: string;
  gl: GlCodes;
}

/** Worker → hub. */
export type WorkerMessage =
  | { t: 'fetch'; rows: number }
  | { t: 'chunk'; bytes: Uint8Array }
  | { t: 'end' }
  | { t: 'error'; message: string; code?: string };

/** Hub → worker: room for `n` more chunks. */
export type HubMessage = { t: 'credit'; n: number };

const port = parentPort!;
const job = workerData as ExportJob;
let credits = 0;
let wake: (() => void) | null = null;
port.on('message', (m: HubMessage) => {
  if (m.t !== 'credit') return;
  credits += m.n;
  wake?.();
  wake = null;
});

async function run(): Promise<void> {
  const client = new Client({ connectionString: job.url, application_name: 'ehub-export' });
  await client.connect();
  try {
    const exp = openExport(job.kind, job.range, async () => ({ client, release: () => undefined }), job.gl, (_kind, rows) => port.postMessage({ t: 'fetch', rows } satisfies WorkerMessage));
    const encoder = new TextEncoder();
    for await (const text of exp.chunks) {
      while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
      credits--;
      const bytes = encoder.encode(text);
      port.postMessage({ t: 'chunk', bytes } satisfies WorkerMessage, [bytes.buffer as ArrayBuffer]);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

// The last message is 'end' or 'error', sent once the connection is closed: the hub then ends the thread.
run().then(
  () => port.postMessage({ t: 'end' } satisfies WorkerMessage),
  (err: unknown) => {
    const e = err as { message?: string; code?: string };
    port.postMessage({ t: 'error', message: e.message ?? String(err), ...(typeof e.code === 'string' ? { code: e.code } : {}) } satisfies WorkerMessage);
  },
);
