import crypto from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { backoffMs, eventTypeProblems, generateWebhookSecret, signatureHeader, standardSignatureHeader, urlProblems, webhookBody } from './webhook.rules';
import { verifyStandardWebhook, verifyWebhookSignature } from './webhook.verify';

describe('urlProblems', () => {
  it.each(['https://example.com/hooks', 'http://127.0.0.1:8080/x?y=1', 'https://[::1]/h'])('accepts %s', (url) => {
    expect(urlProblems(url)).toEqual([]);
  });

  it.each([
    ['ftp://example.com/x', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['javascript:alert(1)', /http or https/],
    ['not a url', /absolute URL/],
    ['/relative/path', /absolute URL/],
    ['https://user:pass@example.com/x', /credentials/],
    ['https://user@example.com/x', /credentials/],
    ['https://example.com/x#frag', /fragment/],
    [`https://example.com/${'a'.repeat(2100)}`, /at most/],
  ])('rejects %s', (url, message) => {
    const problems = urlProblems(url);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('input.url');
    expect(problems[0]!.message).toMatch(message);
  });
});

describe('eventTypeProblems', () => {
  it('accepts known types and *', () => {
    expect(eventTypeProblems(['usage.threshold', 'compliance.finding'])).toEqual([]);
    expect(eventTypeProblems(['*'])).toEqual([]);
  });
  it('rejects unknown, repeated or no types, naming the entry', () => {
    expect(eventTypeProblems(['usage.treshold'])).toEqual([{ path: 'input.eventTypes.0', message: expect.stringMatching(/unknown event type "usage.treshold"/) }]);
    expect(eventTypeProblems(['usage.threshold', 'usage.threshold'])[0]!.message).toMatch(/repeat/);
    expect(eventTypeProblems([])[0]!.message).toMatch(/at least one/);
  });
});

describe('backoffMs', () => {
  it('doubles from the base, with equal jitter in [d/2, d], capped', () => {
    expect(backoffMs(1, 10_000, 3_600_000, () => 0)).toBe(5_000);
    expect(backoffMs(1, 10_000, 3_600_000, () => 1)).toBe(10_000);
    expect(backoffMs(2, 10_000, 3_600_000, () => 1)).toBe(20_000);
    expect(backoffMs(4, 10_000, 3_600_000, () => 0.5)).toBe(60_000);
    expect(backoffMs(20, 10_000, 3_600_000, () => 1)).toBe(3_600_000);
    expect(backoffMs(20, 10_000, 3_600_000, () => 0)).toBe(1_800_000);
  });
  it('never shrinks from one attempt to the next (below the cap)', () => {
    for (let attempt = 1; attempt < 12; attempt++) {
      const worstNext = backoffMs(attempt + 1, 10_000, 1e12, () => 0);
      const bestThis = backoffMs(attempt, 10_000, 1e12, () => 1);
      expect(worstNext).toBeGreaterThanOrEqual(bestThis);
    }
  });
});

describe('signing', () => {
  it('generates distinct whsec_ secrets of 256 bits', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(generateWebhookSecret()).not.toBe(a);
  });
  it('signs with every secret given, each verifiable on its own', () => {
    const body = webhookBody({ id: 'e', type: 't.x', createdAt: new Date(0), accountId: null, payload: { a: 1 } });
    expect(JSON.parse(body)).toEqual({ id: 'e', type: 't.x', createdAt: '1970-01-01T00:00:00.000Z', accountId: null, data: { a: 1 } });
    const now = Date.now();
    const ts = Math.floor(now / 1000);
    const header = signatureHeader(['whsec_new', 'whsec_old'], ts, body);
    expect(header.split(',')).toHaveLength(2);
    expect(verifyWebhookSignature('whsec_new', ts, body, header, now)).toBe(true);
    expect(verifyWebhookSignature('whsec_old', ts, body, header, now)).toBe(true);
    expect(verifyWebhookSignature('whsec_other', ts, body, header, now)).toBe(false);
  });
  it('Standard Webhooks: the header the standardwebhooks library itself produces, and both signatures of a rotation verify', () => {
    const secret = generateWebhookSecret();
    const old = generateWebhookSecret();
    const body = '{"a":1}';
    const now = Date.now();
    const ts = Math.floor(now / 1000);
    const header = standardSignatureHeader([secret, old], 'msg_1', ts, body);
    // The library signs `${id}.${timestamp}.${body}` with the decoded key: the same first value.
    expect(header.split(' ')[0]).toBe(new Webhook(secret).sign('msg_1', new Date(ts * 1000), body));
    for (const s of [secret, old]) {
      expect(verifyStandardWebhook(s, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': header }, body, now)).toBe(true);
    }
    expect(verifyStandardWebhook(secret, { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': header }, body, now)).toBe(false);
  });
  it('a secret made before Standard Webhooks (base64url) signs with the same key bytes: the library verifies it once converted to base64', () => {
    const bytes = crypto.randomBytes(32);
    const legacy = `whsec_${bytes.toString('base64url')}`;
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"n":9}';
    const headers = { 'webhook-id': 'msg_9', 'webhook-timestamp': String(ts), 'webhook-signature': standardSignatureHeader([legacy], 'msg_9', ts, body) };
    expect(new Webhook(`whsec_${bytes.toString('base64')}`).verify(body, headers)).toEqual({ n: 9 });
    expect(verifyStandardWebhook(legacy, headers, body)).toBe(true);
  });
});
