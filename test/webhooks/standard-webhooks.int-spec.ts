import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { startTestHub, type TestHub } from '../support/test-hub';
import { verifyStandardWebhook, verifyWebhookSignature } from '../../src/webhooks/webhook.verify';
import { createEndpoint, deliveries, emit, Receiver, tickUntil } from './receiver';

/**
 * Standard Webhooks (issue 17): real deliveries to a real receiver, verified with the
 * `standardwebhooks` npm package itself — the library receivers use — including during a
 * secret rotation, and a replay of an old delivery refused for its timestamp. The deprecated
 * Ehub-Webhook-* headers still come along.
 */
let hub: TestHub;
let rx: Receiver;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_WEBHOOK_BACKOFF_BASE_MS: '20', EHUB_WEBHOOK_MAX_ATTEMPTS: '4', EHUB_WEBHOOK_TIMEOUT_MS: '1000' });
  rx = await Receiver.start();
});
afterAll(async () => {
  await rx?.stop();
  await hub?.close();
});

// Each test starts with no active endpoint: what earlier tests registered gets nothing more.
afterEach(async () => {
  await hub.ds.query(`UPDATE webhook_endpoint SET status = 'DISABLED', disabled_at = now()`);
});

let seq = 0;
const key = (label: string) => `std:${label}:${++seq}`;

function standardHeaders(h: Record<string, string>) {
  return { 'webhook-id': h['webhook-id']!, 'webhook-timestamp': h['webhook-timestamp']!, 'webhook-signature': h['webhook-signature']! };
}

async function deliverOne(endpoint: { id: string }, path: string, payload: Record<string, unknown>) {
  const before = rx.on(path).length;
  expect(await emit(hub, { type: 'usage.threshold', key: key(path), accountId: null, payload })).toBe(1);
  await tickUntil(hub, () => rx.on(path).length > before);
  const got = rx.on(path).slice(before);
  expect(got).toHaveLength(1);
  return { received: got[0]!, delivery: (await deliveries(hub, endpoint.id)).at(-1)! };
}

describe('Standard Webhooks signatures', () => {
  it('a delivery verifies with the standardwebhooks library; a changed body, another secret or another id does not', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/std`, eventTypes: ['usage.threshold'] });
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const payload = { entitlementId: 'e-1', percent: 80 };
    const { received, delivery } = await deliverOne(ep, '/std', payload);
    const h = standardHeaders(received.headers);
    expect(h['webhook-id']).toBe(delivery.id);
    expect(h['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(h['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    const wh = new Webhook(ep.secret);
    // The library returns the parsed payload when the signature holds.
    expect(wh.verify(received.body, h)).toEqual({ id: expect.any(String), type: 'usage.threshold', createdAt: expect.any(String), accountId: null, data: payload });
    expect(verifyStandardWebhook(ep.secret, h, received.body)).toBe(true);

    expect(() => wh.verify(received.body.replace('"percent":80', '"percent":81'), h)).toThrow(WebhookVerificationError);
    expect(() => wh.verify(received.body, { ...h, 'webhook-id': `${h['webhook-id']}x` })).toThrow(WebhookVerificationError);
    const other = await createEndpoint(hub, { url: `${rx.url}/other`, eventTypes: ['entitlement.expiring'] });
    expect(() => new Webhook(other.secret).verify(received.body, h)).toThrow(WebhookVerificationError);
    expect(verifyStandardWebhook(other.secret, h, received.body)).toBe(false);

    // The deprecated headers are still there, with the same id and timestamp, and still verify.
    expect(received.headers['ehub-webhook-id']).toBe(h['webhook-id']);
    expect(received.headers['ehub-webhook-timestamp']).toBe(h['webhook-timestamp']);
    expect(verifyWebhookSignature(ep.secret, received.timestamp, received.body, received.signature)).toBe(true);
  });

  it('during a rotation deliveries carry two signatures: receivers on the old and on the new secret both verify; after the window only the new one', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/rot`, eventTypes: ['usage.threshold'] });
    const rotated = await hub.ok<{ rotateWebhookSecret: { secret: string } }>(
      `mutation ($id: ID!) { rotateWebhookSecret(id: $id, keepPreviousHours: 24) { secret } }`,
      { id: ep.id },
    );
    const fresh = rotated.rotateWebhookSecret.secret;
    const { received } = await deliverOne(ep, '/rot', { n: 1 });
    const h = standardHeaders(received.headers);
    expect(h['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(fresh).verify(received.body, h)).toMatchObject({ data: { n: 1 } });
    expect(new Webhook(ep.secret).verify(received.body, h)).toMatchObject({ data: { n: 1 } });

    // Rotating again with no overlap: the old secrets stop verifying at once.
    const cut = await hub.ok<{ rotateWebhookSecret: { secret: string } }>(
      `mutation ($id: ID!) { rotateWebhookSecret(id: $id, keepPreviousHours: 0) { secret } }`,
      { id: ep.id },
    );
    const newest = cut.rotateWebhookSecret.secret;
    const second = standardHeaders((await deliverOne(ep, '/rot', { n: 2 })).received.headers);
    const body2 = rx.on('/rot').at(-1)!.body;
    expect(second['webhook-signature'].split(' ')).toHaveLength(1);
    expect(new Webhook(newest).verify(body2, second)).toMatchObject({ data: { n: 2 } });
    expect(() => new Webhook(fresh).verify(body2, second)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(ep.secret).verify(body2, second)).toThrow(WebhookVerificationError);
  });

  it('a delivery replayed more than 5 minutes later is refused for its old timestamp', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/replay`, eventTypes: ['usage.threshold'] });
    const { received } = await deliverOne(ep, '/replay', { n: 3 });
    const h = standardHeaders(received.headers);
    const wh = new Webhook(ep.secret);
    expect(wh.verify(received.body, h)).toMatchObject({ data: { n: 3 } });
    // The same bytes and headers, presented 6 minutes later (an attacker replaying a capture).
    const later = (Number(h['webhook-timestamp']) + 360) * 1000;
    const now = jest.spyOn(Date, 'now').mockReturnValue(later);
    try {
      expect(() => wh.verify(received.body, h)).toThrow(/timestamp too old/i);
      // Moving the timestamp forward to look fresh breaks the signature instead.
      expect(() => wh.verify(received.body, { ...h, 'webhook-timestamp': String(later / 1000) })).toThrow(/no matching signature/i);
    } finally {
      now.mockRestore();
    }
    expect(verifyStandardWebhook(ep.secret, h, received.body, later)).toBe(false);
  });
});
