import crypto from 'node:crypto';

/*
 * Signing and verifying Entitlement Hub webhooks. Self-contained on purpose (it imports only
 * node:crypto): receivers may copy this file as it is. See docs/webhooks.md.
 *
 *   Ehub-Webhook-Id:        the delivery id (the same on every retry: deduplicate on it)
 *   Ehub-Webhook-Timestamp: unix seconds when this attempt was signed
 *   Ehub-Webhook-Signature: v1=<hex HMAC-SHA256(secret, `${timestamp}.${body}`)>
 *                           (during a secret rotation: two, comma-separated)
 *
 * Deprecated: the Ehub-Webhook-* headers are sent beside the Standard Webhooks
 * headers (https://www.standardwebhooks.com/) through the 0.2 line and dropped in 0.3:
 *
 *   webhook-id:        the same delivery id
 *   webhook-timestamp: the same unix seconds
 *   webhook-signature: v1,<base64 HMAC-SHA256(base64-decoded secret after "whsec_",
 *                      `${id}.${timestamp}.${body}`)> (rotation: two, space-separated)
 *
 * Verify those with the `standardwebhooks` or `svix` library of your language, or with
 * verifyStandardWebhook below.
 */

/** How old (or how far in the future) a timestamp may be, in seconds. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** The hex HMAC-SHA256 of `${timestamp}.${body}` keyed with the endpoint's secret (the whole `whsec_...` string). */
export function webhookSignature(secret: string, timestamp: string | number, body: string | Buffer): string {
  return crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/**
 * True when `header` (the Ehub-Webhook-Signature value) holds a v1 signature of this exact
 * body and timestamp made with `secret`, and the timestamp is within 5 minutes of `now`
 * (milliseconds, default the current time). Pass the raw body as received, before any JSON
 * parsing: re-serialised JSON does not verify.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number,
  body: string | Buffer,
  header: string | null | undefined,
  now: number = Date.now(),
  toleranceSeconds: number = WEBHOOK_TOLERANCE_SECONDS,
): boolean {
  if (!secret || !header) return false;
  const ts = String(timestamp);
  if (!/^\d{1,12}$/.test(ts)) return false;
  if (Math.abs(Math.floor(now / 1000) - Number(ts)) > toleranceSeconds) return false;
  const expected = Buffer.from(webhookSignature(secret, ts, body), 'hex');
  let ok = false;
  for (const part of header.split(',')) {
    const [version, value] = part.trim().split('=', 2);
    if (version !== 'v1' || !value || !/^[0-9a-f]{64}$/i.test(value)) continue;
    // Compare every candidate in constant time (no early exit on a match).
    if (crypto.timingSafeEqual(Buffer.from(value, 'hex'), expected)) ok = true;
  }
  return ok;
}

/**
 * The key of a Standard Webhooks secret: what follows `whsec_`, base64-decoded. Secrets made
 * before the Standard Webhooks headers were base64url; both alphabets decode to the same bytes.
 */
export function standardWebhookKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** The base64 HMAC-SHA256 of `${id}.${timestamp}.${body}` keyed with the decoded secret (Standard Webhooks v1). */
export function standardWebhookSignature(secret: string, id: string, timestamp: string | number, body: string | Buffer): string {
  return crypto.createHmac('sha256', standardWebhookKey(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

/**
 * True when the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) carry a v1 signature of this exact body made with `secret`, and the
 * timestamp is within 5 minutes of `now` (milliseconds). Same checks as the `standardwebhooks`
 * library's `verify`.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: { 'webhook-id'?: string | null; 'webhook-timestamp'?: string | null; 'webhook-signature'?: string | null },
  body: string | Buffer,
  now: number = Date.now(),
  toleranceSeconds: number = WEBHOOK_TOLERANCE_SECONDS,
): boolean {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const header = headers['webhook-signature'];
  if (!secret || !id || !ts || !header || !/^\d{1,12}$/.test(ts)) return false;
  if (Math.abs(Math.floor(now / 1000) - Number(ts)) > toleranceSeconds) return false;
  const expected = Buffer.from(standardWebhookSignature(secret, id, ts, body), 'base64');
  let ok = false;
  for (const part of header.split(' ')) {
    const [version, value] = part.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
}
