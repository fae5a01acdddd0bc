import crypto from 'node:crypto';
import { verifyWebhookSignature, webhookSignature } from './webhook.verify';

const secret = 'whsec_test-secret-0123456789abcdefghijklmnop';
const body = '{"id":"e1","type":"usage.threshold","createdAt":"2027-01-01T00:00:00.000Z","accountId":null,"data":{"percent":80}}';
const now = Date.UTC(2027, 0, 1, 12, 0, 0);
const ts = Math.floor(now / 1000);

describe('verifyWebhookSignature', () => {
  it('accepts the signature the hub makes: hex HMAC-SHA256 of `${timestamp}.${body}`', () => {
    const expected = crypto.createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
    expect(webhookSignature(secret, ts, body)).toBe(expected);
    expect(verifyWebhookSignature(secret, String(ts), body, `v1=${expected}`, now)).toBe(true);
    expect(verifyWebhookSignature(secret, ts, Buffer.from(body), `v1=${expected}`, now)).toBe(true);
  });

  it('rejects a tampered body, another secret or another timestamp', () => {
    const header = `v1=${webhookSignature(secret, ts, body)}`;
    expect(verifyWebhookSignature(secret, ts, body.replace('80', '81'), header, now)).toBe(false);
    expect(verifyWebhookSignature(`${secret}x`, ts, body, header, now)).toBe(false);
    expect(verifyWebhookSignature(secret, ts + 1, body, header, now)).toBe(false);
  });

  it('rejects timestamps more than 5 minutes old or ahead', () => {
    const old = ts - 301;
    expect(verifyWebhookSignature(secret, old, body, `v1=${webhookSignature(secret, old, body)}`, now)).toBe(false);
    const edge = ts - 300;
    expect(verifyWebhookSignature(secret, edge, body, `v1=${webhookSignature(secret, edge, body)}`, now)).toBe(true);
    const ahead = ts + 301;
    expect(verifyWebhookSignature(secret, ahead, body, `v1=${webhookSignature(secret, ahead, body)}`, now)).toBe(false);
  });

  it('accepts any of several v1 signatures (secret rotation) and ignores unknown versions', () => {
    const other = `v1=${webhookSignature('whsec_other', ts, body)}`;
    const mine = `v1=${webhookSignature(secret, ts, body)}`;
    expect(verifyWebhookSignature(secret, ts, body, `${other},${mine}`, now)).toBe(true);
    expect(verifyWebhookSignature(secret, ts, body, `${mine}, ${other}`, now)).toBe(true);
    expect(verifyWebhookSignature(secret, ts, body, other, now)).toBe(false);
    expect(verifyWebhookSignature(secret, ts, body, mine.replace('v1=', 'v0='), now)).toBe(false);
  });

  it('rejects malformed input without throwing', () => {
    for (const header of ['', 'v1=', 'v1=zz', 'v1=abc', 'garbage', null, undefined]) {
      expect(verifyWebhookSignature(secret, ts, body, header, now)).toBe(false);
    }
    expect(verifyWebhookSignature(secret, 'not-a-number', body, `v1=${webhookSignature(secret, ts, body)}`, now)).toBe(false);
    expect(verifyWebhookSignature('', ts, body, `v1=${webhookSignature(secret, ts, body)}`, now)).toBe(false);
  });

  it('imports nothing from the hub (receivers can copy the file)', async () => {
    const fs = await import('node:fs/promises');
    const source = await fs.readFile(`${__dirname}/webhook.verify.ts`, 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imports).toEqual(['node:crypto']);
  });
});
