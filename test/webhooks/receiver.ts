import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import type { WebhookEventInput } from '../../src/webhooks/webhook.service';
import type { TestHub } from '../support/test-hub';

/** One request a receiver got: the raw body and the signature headers. */
export interface Received {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  event: string;
  /** Every request header, lower-cased names (the Standard Webhooks `webhook-*` ones among them). */
  headers: Record<string, string>;
  body: string;
  json: { id: string; type: string; createdAt: string; accountId: string | null; data: Record<string, unknown> };
}

/** What the receiver answers a request with: a status, optionally a body, headers or a delay. */
export type Answer = number | { status: number; body?: string; headers?: Record<string, string>; delayMs?: number };

/**
 * A real webhook receiver on 127.0.0.1 (node:http). `answer` decides each response (the
 * request and how many this path has had so far, from 1). `stop()` closes the port, so
 * deliveries meet "connection refused" until `start()` listens on the same port again.
 */
export class Receiver {
  received: Received[] = [];
  answer: (r: Received, nth: number) => Answer = () => 200;
  private server: http.Server | null = null;
  private port = 0;

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    await r.start();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const r: Received = {
          path: req.url ?? '/',
          id: String(req.headers['ehub-webhook-id']),
          timestamp: String(req.headers['ehub-webhook-timestamp']),
          signature: String(req.headers['ehub-webhook-signature']),
          event: String(req.headers['ehub-webhook-event']),
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
          body,
          json: JSON.parse(body),
        };
        this.received.push(r);
        const nth = this.received.filter((x) => x.path === r.path).length;
        const a = this.answer(r, nth);
        const answer = typeof a === 'number' ? { status: a } : a;
        const reply = () => {
          res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
          res.end(answer.body ?? `answer ${answer.status}`);
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const log = pino({ level: 'silent' });

/** Emits an event the way producers do: enqueue inside a transaction. Returns deliveries queued. */
export function emit(hub: TestHub, event: WebhookEventInput): Promise<number> {
  return hub.services.db.tx(systemContext(log, 'test:emit'), (tx) => hub.services.webhooks.enqueue(tx.manager, event));
}

/** Registers an endpoint over GraphQL; returns its id and secret. */
export async function createEndpoint(
  hub: TestHub,
  input: { url: string; eventTypes: string[]; description?: string; accountId?: string },
  key?: string,
): Promise<{ id: string; secret: string }> {
  const d = await hub.ok<{ createWebhookEndpoint: { endpoint: { id: string }; secret: string } }>(
    `mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret } }`,
    { input },
    key,
  );
  return { id: d.createWebhookEndpoint.endpoint.id, secret: d.createWebhookEndpoint.secret };
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  last_status_code: number | null;
  event_key: string;
}

export async function deliveries(hub: TestHub, endpointId: string): Promise<DeliveryRow[]> {
  return hub.ds.query(
    `SELECT d.id, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_error, d.last_status_code, ev.key AS event_key
       FROM webhook_delivery d JOIN webhook_event ev ON ev.id = d.event_id
      WHERE d.endpoint_id = $1 ORDER BY d.queue_seq`,
    [endpointId],
  );
}

/** Runs delivery ticks (waiting for backoffs to pass) until `done` holds, or fails after `timeoutMs`. */
export async function tickUntil(hub: TestHub, done: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let ticks = 0;
  for (;;) {
    await hub.services.webhooks.deliverDue();
    ticks++;
    if (await done()) return ticks;
    if (Date.now() > until) throw new Error(`tickUntil: not done after ${ticks} ticks`);
    await sleep(5);
  }
}
