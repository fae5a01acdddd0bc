import crypto from 'node:crypto';
import type { FieldError } from '../common/errors';
import { standardWebhookSignature, webhookSignature } from './webhook.verify';

/** The event types the hub emits, with what they mean (endpoints subscribe to these, or `*`). */
export const WEBHOOK_EVENT_TYPES: Readonly<Record<string, string>> = {
  'usage.threshold': "Consumption crossed 50, 80 or 100 % of a period's entitlement (once per threshold and period).",
  'entitlement.expiring': 'An entitlement ends in 90, 60 or 30 days (once per threshold).',
  'compliance.finding': 'A new compliance finding: overuse, underuse, unentitled or expired use, devices over limit.',
  'consumption.overage': 'Metered consumption went past the entitled quantity of a period.',
};

/** Sent by `pingWebhookEndpoint` to that endpoint only, whatever it subscribes to. */
export const PING_EVENT_TYPE = 'webhook.ping';

/** Subscribes an endpoint to every event type, including ones added later. */
export const ALL_EVENTS = '*';

export const MAX_URL_LENGTH = 2048;
/** Largest payload an event may carry (serialised JSON). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** How much of a receiver's answer is kept with an attempt. */
export const RESPONSE_SNIPPET_BYTES = 512;

/** Problems with a webhook URL (empty when it is fine): http(s) only, a host, no credentials. */
export function urlProblems(raw: string, path = 'input.url'): FieldError[] {
  const problem = (message: string) => [{ path, message }];
  if (raw.length > MAX_URL_LENGTH) return problem(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return problem('must be an absolute URL, e.g. https://example.com/hooks/ehub');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return problem(`must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  if (!url.hostname) return problem('must name a host');
  if (url.username || url.password) return problem('must not carry credentials (user:password@): receivers authenticate deliveries by their signature');
  if (url.hash) return problem('must not have a #fragment (it is never sent)');
  return [];
}

/** Problems with a list of subscribed event types (known types or `*`, at least one, no repeats). */
export function eventTypeProblems(types: string[], path = 'input.eventTypes'): FieldError[] {
  const out: FieldError[] = [];
  if (types.length === 0) out.push({ path, message: 'must list at least one event type' });
  types.forEach((t, i) => {
    if (t !== ALL_EVENTS && !(t in WEBHOOK_EVENT_TYPES)) {
      out.push({ path: `${path}.${i}`, message: `unknown event type "${t}"; known: ${[...Object.keys(WEBHOOK_EVENT_TYPES), ALL_EVENTS].join(', ')}` });
    }
  });
  if (new Set(types).size !== types.length) out.push({ path, message: 'must not repeat an event type' });
  return out;
}

/**
 * A new signing secret: `whsec_` + 32 random bytes in standard base64 (the Standard Webhooks
 * form: receivers' `standardwebhooks`/`svix` libraries decode what follows `whsec_` as the key).
 * The legacy `Ehub-Webhook-Signature` keeps using the whole string as its HMAC key.
 */
export function generateWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

export { backoffMs } from '../common/backoff';

/** The JSON body of a delivery. Same bytes on every attempt of the same delivery. */
export function webhookBody(event: { id: string; type: string; createdAt: Date; accountId: string | null; payload: unknown }): string {
  return JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), accountId: event.accountId, data: event.payload });
}

/** The signature header: one `v1=` per secret (the current one first; the previous one during a rotation). */
export function signatureHeader(secrets: string[], timestamp: number, body: string): string {
  return secrets.map((s) => `v1=${webhookSignature(s, timestamp, body)}`).join(',');
}

/**
 * The Standard Webhooks `webhook-signature` header (https://www.standardwebhooks.com/): one
 * `v1,<base64 HMAC-SHA256 of "${id}.${timestamp}.${body}">` per secret, space-separated (the
 * current secret first; the previous one during a rotation).
 */
export function standardSignatureHeader(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets.map((s) => `v1,${standardWebhookSignature(s, id, timestamp, body)}`).join(' ');
}

/** Keeps text storable (PostgreSQL text refuses NUL) and short. */
export function clip(text: string, max: number): string {
  const clean = text.split('\u0000').join('');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
