import pino from 'pino';
import { startTestHub, type TestHub } from '../support/test-hub';
import { verifyWebhookSignature } from '../../src/webhooks/webhook.verify';
import { webhookJobs } from '../../src/webhooks/webhook.jobs';
import { createEndpoint, deliveries, emit, Receiver, sleep, tickUntil } from './receiver';

/**
 * The outbox end to end: real receivers on 127.0.0.1, events enqueued in transactions as
 * producers do, and delivery runs driven directly (fast backoff: base 20 ms, 4 attempts).
 */
let hub: TestHub;
let rx: Receiver;
beforeAll(async () => {
  hub = await startTestHub({
    EHUB_WEBHOOK_BACKOFF_BASE_MS: '20',
    EHUB_WEBHOOK_BACKOFF_MAX_MS: '60000',
    EHUB_WEBHOOK_MAX_ATTEMPTS: '4',
    EHUB_WEBHOOK_TIMEOUT_MS: '1000',
  });
  rx = await Receiver.start();
});
afterAll(async () => {
  await rx?.stop();
  await hub?.close();
});

// Each test starts with no active endpoint: what earlier tests registered gets nothing more.
afterEach(async () => {
  await hub.ds.query(`UPDATE webhook_endpoint SET status = 'DISABLED', disabled_at = now()`);
  rx.answer = () => 200;
});

let seq = 0;
const key = (label: string) => `test:${label}:${++seq}`;

describe('delivery with retries', () => {
  it('a receiver failing the first 3 attempts gets the event on the 4th, with a valid signature', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/flaky`, eventTypes: ['usage.threshold'] });
    rx.answer = (r, nth) => (r.path === '/flaky' ? (nth <= 3 ? { status: 500, body: 'not yet' } : 204) : 200);
    const payload = { entitlementId: 'e-1', percent: 80, used: '800', entitled: '1000' };
    expect(await emit(hub, { type: 'usage.threshold', key: key('flaky'), accountId: null, payload })).toBe(1);

    await tickUntil(hub, async () => (await deliveries(hub, ep.id))[0]!.status === 'DELIVERED');
    const got = rx.on('/flaky');
    expect(got).toHaveLength(4);
    const [delivery] = await deliveries(hub, ep.id);
    expect(new Set(got.map((r) => r.id))).toEqual(new Set([delivery!.id])); // one id across retries
    const last = got[3]!;
    expect(verifyWebhookSignature(ep.secret, last.timestamp, last.body, last.signature)).toBe(true);
    expect(last.json).toEqual({ id: expect.any(String), type: 'usage.threshold', createdAt: expect.any(String), accountId: null, data: payload });
    expect(last.event).toBe('usage.threshold');
    // Every attempt was signed afresh; every one verifies.
    for (const r of got) expect(verifyWebhookSignature(ep.secret, r.timestamp, r.body, r.signature)).toBe(true);

    // The documented recipe rejects a tampered body, a wrong secret and a stale timestamp.
    const tampered = last.body.replace('"percent":80', '"percent":100');
    expect(tampered).not.toBe(last.body);
    expect(verifyWebhookSignature(ep.secret, last.timestamp, tampered, last.signature)).toBe(false);
    expect(verifyWebhookSignature(`${ep.secret}x`, last.timestamp, last.body, last.signature)).toBe(false);
    expect(verifyWebhookSignature(ep.secret, last.timestamp, last.body, last.signature, (Number(last.timestamp) + 301) * 1000)).toBe(false);

    const d = await hub.ok<{ webhookDelivery: Record<string, unknown> & { attempts: Record<string, unknown>[] } }>(
      `query ($id: ID!) { webhookDelivery(id: $id) { status attemptCount lastStatusCode lastError deliveredAt
          event { type payload } endpoint { id }
          attempts { attempt statusCode outcome error responseSnippet durationMs nextAttemptAt } } }`,
      { id: delivery!.id },
    );
    expect(d.webhookDelivery).toMatchObject({ status: 'DELIVERED', attemptCount: 4, lastStatusCode: 204, lastError: null, event: { type: 'usage.threshold', payload } });
    expect(d.webhookDelivery.attempts.map((a) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 500, 'FAILED'],
      [2, 500, 'FAILED'],
      [3, 500, 'FAILED'],
      [4, 204, 'DELIVERED'],
    ]);
    expect(d.webhookDelivery.attempts[0]).toMatchObject({ error: 'receiver answered HTTP 500', responseSnippet: 'not yet' });
    expect(d.webhookDelivery.attempts[3]!.nextAttemptAt).toBeNull();
  });

  it('backs off more each time, goes DEAD after the last attempt with its reason, and a replay delivers it', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/down500`, eventTypes: ['compliance.finding'] });
    let healthy = false;
    rx.answer = (r) => (r.path === '/down500' && !healthy ? 500 : 200);
    await emit(hub, { type: 'compliance.finding', key: key('dead'), accountId: null, payload: { kind: 'OVERUSE' } });

    await tickUntil(hub, async () => (await deliveries(hub, ep.id))[0]!.status === 'DEAD');
    const [dead] = await deliveries(hub, ep.id);
    expect(dead).toMatchObject({ status: 'DEAD', attempts: 4, last_status_code: 500 });
    expect(dead!.last_error).toBe('gave up after 4 attempts; last: receiver answered HTTP 500');
    expect(rx.on('/down500')).toHaveLength(4);

    // Backoff: base 20 ms × 2^(n-1) with equal jitter: in [d/2, d] and never shrinking.
    const attempts: { outcome: string; backoff: number | null }[] = await hub.ds.query(
      `SELECT outcome, (extract(epoch FROM next_attempt_at - finished_at) * 1000)::int AS backoff
         FROM webhook_attempt WHERE delivery_id = $1 ORDER BY id`,
      [dead!.id],
    );
    expect(attempts.map((a) => a.outcome)).toEqual(['FAILED', 'FAILED', 'FAILED', 'DEAD']);
    const gaps = attempts.slice(0, 3).map((a) => a.backoff!);
    gaps.forEach((g, i) => {
      const d = 20 * 2 ** i;
      expect(g).toBeGreaterThanOrEqual(d / 2 - 1);
      expect(g).toBeLessThanOrEqual(d + 1);
    });
    expect(gaps[1]!).toBeGreaterThanOrEqual(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThanOrEqual(gaps[1]!);
    expect(attempts[3]!.backoff).toBeNull();

    // A DEAD delivery is not retried by later runs.
    await hub.services.webhooks.deliverDue();
    expect(rx.on('/down500')).toHaveLength(4);

    // Replay (sent twice: the second finds it queued and changes nothing).
    const replay = `mutation ($id: ID!) { replayWebhookDelivery(id: $id) { id status attemptCount replays deadAt } }`;
    const first = await hub.ok<{ replayWebhookDelivery: Record<string, unknown> }>(replay, { id: dead!.id });
    expect(first.replayWebhookDelivery).toEqual({ id: dead!.id, status: 'PENDING', attemptCount: 0, replays: 1, deadAt: null });
    const again = await hub.ok<{ replayWebhookDelivery: Record<string, unknown> }>(replay, { id: dead!.id });
    expect(again.replayWebhookDelivery).toEqual(first.replayWebhookDelivery);

    healthy = true;
    await tickUntil(hub, async () => (await deliveries(hub, ep.id))[0]!.status === 'DELIVERED');
    const got = rx.on('/down500');
    expect(got).toHaveLength(5);
    expect(got[4]!.id).toBe(dead!.id);
    expect(verifyWebhookSignature(ep.secret, got[4]!.timestamp, got[4]!.body, got[4]!.signature)).toBe(true);

    const audit: { action: string }[] = await hub.ds.query(`SELECT action FROM audit_log WHERE entity = 'WebhookDelivery' AND entity_id = $1`, [dead!.id]);
    expect(audit.map((a) => a.action)).toEqual(['REPLAY']);
  });

  it('replayDeadWebhookDeliveries queues every dead delivery of an endpoint again, in order', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/deadmany`, eventTypes: ['entitlement.expiring'] });
    let healthy = false;
    rx.answer = (r) => (r.path === '/deadmany' && !healthy ? 503 : 200);
    const keys = [key('dm'), key('dm'), key('dm')];
    for (const k of keys) await emit(hub, { type: 'entitlement.expiring', key: k, payload: { k } });
    await tickUntil(hub, async () => (await deliveries(hub, ep.id)).every((d) => d.status === 'DEAD'));
    // Each dead head let the next one through: 3 × 4 attempts, in order.
    expect(rx.on('/deadmany').map((r) => r.json.data.k)).toEqual(keys.flatMap((k) => [k, k, k, k]));

    healthy = true;
    const mutation = `mutation ($id: ID!) { replayDeadWebhookDeliveries(endpointId: $id) }`;
    expect(await hub.ok(mutation, { id: ep.id })).toEqual({ replayDeadWebhookDeliveries: 3 });
    expect(await hub.ok(mutation, { id: ep.id })).toEqual({ replayDeadWebhookDeliveries: 0 });
    await tickUntil(hub, async () => (await deliveries(hub, ep.id)).every((d) => d.status === 'DELIVERED'));
    expect(rx.on('/deadmany').slice(12).map((r) => r.json.data.k)).toEqual(keys);
  });
});

describe('a receiver that is down for a while', () => {
  it('gets every event exactly once, in order, once it is back', async () => {
    const down = await Receiver.start();
    const ep = await createEndpoint(hub, { url: `${down.url}/back`, eventTypes: ['usage.threshold'] });
    await down.stop(); // connection refused from now on
    const keys = Array.from({ length: 6 }, () => key('down'));
    for (const [i, k] of keys.entries()) await emit(hub, { type: 'usage.threshold', key: k, payload: { n: i } });

    // Two failing runs: only the head of the queue is tried; the others wait their turn.
    await hub.services.webhooks.deliverDue();
    let rows = await deliveries(hub, ep.id);
    expect(rows[0]).toMatchObject({ status: 'FAILED', attempts: 1, last_status_code: null });
    expect(rows[0]!.last_error).toMatch(/could not reach the receiver: .*ECONNREFUSED/);
    expect(rows.slice(1).map((r) => [r.status, r.attempts])).toEqual(keys.slice(1).map(() => ['PENDING', 0]));
    await sleep(25);
    await hub.services.webhooks.deliverDue();
    rows = await deliveries(hub, ep.id);
    expect(rows[0]).toMatchObject({ status: 'FAILED', attempts: 2 });

    await down.start(); // same port
    await tickUntil(hub, async () => (await deliveries(hub, ep.id)).every((d) => d.status === 'DELIVERED'));
    expect(down.received.map((r) => r.json.data.n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(down.received.map((r) => r.id)).size).toBe(6);
    for (const r of down.received) expect(verifyWebhookSignature(ep.secret, r.timestamp, r.body, r.signature)).toBe(true);
    await hub.services.webhooks.deliverDue();
    expect(down.received).toHaveLength(6);
    await down.stop();
  });

  it('a run that died mid-send leaves a lease; once it expires the delivery is claimed again', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/crash`, eventTypes: ['usage.threshold'] });
    await emit(hub, { type: 'usage.threshold', key: key('crash'), payload: {} });
    const [d] = await deliveries(hub, ep.id);
    // As a claim leaves it: DELIVERING under a lease, attempt 1 counted.
    await hub.ds.query(`UPDATE webhook_delivery SET status = 'DELIVERING', attempts = 1, locked_until = now() + interval '1 hour' WHERE id = $1`, [d!.id]);
    await hub.services.webhooks.deliverDue();
    expect(rx.on('/crash')).toHaveLength(0); // the lease holds
    await hub.ds.query(`UPDATE webhook_delivery SET locked_until = now() - interval '1 second' WHERE id = $1`, [d!.id]);
    await hub.services.webhooks.deliverDue();
    expect(rx.on('/crash')).toHaveLength(1);
    expect((await deliveries(hub, ep.id))[0]).toMatchObject({ status: 'DELIVERED', attempts: 2 });
  });
});

describe('what is sent where', () => {
  it('enqueueing the same key twice (also concurrently) queues once', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/idem`, eventTypes: ['usage.threshold'] });
    const k = key('idem');
    expect(await emit(hub, { type: 'usage.threshold', key: k, payload: { a: 1 } })).toBe(1);
    expect(await emit(hub, { type: 'usage.threshold', key: k, payload: { a: 1 } })).toBe(0);
    const k2 = key('idem');
    const counts = await Promise.all(Array.from({ length: 5 }, () => emit(hub, { type: 'usage.threshold', key: k2, payload: { a: 2 } })));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    await tickUntil(hub, async () => (await deliveries(hub, ep.id)).every((d) => d.status === 'DELIVERED'));
    expect(rx.on('/idem').map((r) => r.json.data)).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('an event rolled back with its transaction is never sent', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/rollback`, eventTypes: ['usage.threshold'] });
    const ctx = { requestId: 'r', log: pino({ level: 'silent' }), principal: null, operation: 'test', auditWrites: 0 };
    await expect(
      hub.services.db.tx(ctx, async (tx) => {
        await hub.services.webhooks.enqueue(tx.manager, { type: 'usage.threshold', key: key('rb'), payload: {} });
        throw new Error('the producer failed');
      }),
    ).rejects.toThrow('the producer failed');
    expect(await deliveries(hub, ep.id)).toEqual([]);
  });

  it('endpoints subscribed to other types, disabled endpoints and other accounts get nothing', async () => {
    const acct = async (name: string) =>
      (await hub.ok<{ upsertAccount: { id: string } }>(`mutation ($n: String!) { upsertAccount(input: { name: $n }) { id } }`, { n: name })).upsertAccount.id;
    const [x, y] = [await acct('Webhook X'), await acct('Webhook Y')];
    const same = await createEndpoint(hub, { url: `${rx.url}/same`, eventTypes: ['usage.threshold', 'entitlement.expiring'] });
    const other = await createEndpoint(hub, { url: `${rx.url}/other`, eventTypes: ['compliance.finding'] });
    const all = await createEndpoint(hub, { url: `${rx.url}/all`, eventTypes: ['*'] });
    const off = await createEndpoint(hub, { url: `${rx.url}/off`, eventTypes: ['usage.threshold'] });
    const onlyX = await createEndpoint(hub, { url: `${rx.url}/onlyx`, eventTypes: ['usage.threshold'], accountId: x });
    await hub.ok(`mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { status } }`, { id: off.id });

    expect(await emit(hub, { type: 'usage.threshold', key: key('t'), accountId: y, payload: { for: 'y' } })).toBe(2); // same, all
    expect(await emit(hub, { type: 'usage.threshold', key: key('t'), accountId: x, payload: { for: 'x' } })).toBe(3); // same, all, onlyX
    expect(await emit(hub, { type: 'usage.threshold', key: key('t'), accountId: null, payload: { for: 'hub' } })).toBe(2);
    expect(await emit(hub, { type: 'compliance.finding', key: key('t'), accountId: x, payload: { for: 'finding' } })).toBe(2); // other, all
    await hub.services.webhooks.deliverDue();

    const data = (p: string) => rx.on(p).map((r) => r.json.data.for);
    expect(data('/same')).toEqual(['y', 'x', 'hub']);
    expect(data('/all')).toEqual(['y', 'x', 'hub', 'finding']);
    expect(data('/other')).toEqual(['finding']);
    expect(data('/onlyx')).toEqual(['x']);
    expect(data('/off')).toEqual([]);
    expect(await deliveries(hub, off.id)).toEqual([]);
    for (const e of [same, other, all, onlyX]) for (const d of await deliveries(hub, e.id)) expect(d.status).toBe('DELIVERED');
    expect(rx.on('/onlyx')[0]!.json.accountId).toBe(x);
  });

  it('a disabled endpoint holds what was queued before, and sends it in order when enabled again', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/paused`, eventTypes: ['usage.threshold'] });
    await emit(hub, { type: 'usage.threshold', key: key('p'), payload: { n: 1 } });
    await hub.ok(`mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { status } }`, { id: ep.id });
    expect(await emit(hub, { type: 'usage.threshold', key: key('p'), payload: { n: 2 } })).toBe(0);
    await hub.services.webhooks.deliverDue();
    expect(rx.on('/paused')).toHaveLength(0);
    await hub.ok(`mutation ($id: ID!) { enableWebhookEndpoint(id: $id) { status } }`, { id: ep.id });
    await emit(hub, { type: 'usage.threshold', key: key('p'), payload: { n: 3 } });
    await hub.services.webhooks.deliverDue();
    expect(rx.on('/paused').map((r) => r.json.data.n)).toEqual([1, 3]);
  });

  it('redirects are not followed and slow receivers time out', async () => {
    const redirect = await createEndpoint(hub, { url: `${rx.url}/redirect`, eventTypes: ['entitlement.expiring'] });
    const slow = await createEndpoint(hub, { url: `${rx.url}/slow`, eventTypes: ['entitlement.expiring'] });
    rx.answer = (r) => (r.path === '/redirect' ? { status: 302, headers: { location: `${rx.url}/elsewhere` } } : r.path === '/slow' ? { status: 200, delayMs: 1500 } : 200);
    await emit(hub, { type: 'entitlement.expiring', key: key('rt'), payload: {} });
    await hub.services.webhooks.deliverDue();
    expect(rx.on('/elsewhere')).toHaveLength(0);
    const [r] = await deliveries(hub, redirect.id);
    // (While the slow receiver keeps the run busy, the redirect is retried as its backoff passes.)
    expect(r).toMatchObject({ last_status_code: 302 });
    expect(['FAILED', 'DEAD']).toContain(r!.status);
    expect(r!.last_error).toMatch(/redirects are not followed/);
    const [s] = await deliveries(hub, slow.id);
    expect(s).toMatchObject({ status: 'FAILED', last_status_code: null, last_error: 'no answer within 1000 ms' });
  });
});

describe('concurrent delivery runs', () => {
  // Its own hub with a generous timeout: on a loaded machine a 1 s timeout (the file's, for the
  // slow-receiver test) makes a slow answer a timed-out attempt that is rightly sent again, which
  // is at-least-once delivery, not the double send this test is about.
  let chub: TestHub;
  beforeAll(async () => {
    chub = await startTestHub({ EHUB_WEBHOOK_BACKOFF_BASE_MS: '20', EHUB_WEBHOOK_TIMEOUT_MS: '30000' });
  });
  afterAll(async () => chub?.close());

  it('two job ticks (and a third run) at once never send a delivery twice, and keep each endpoint in order', async () => {
    const conc = await Receiver.start();
    conc.answer = () => ({ status: 200, delayMs: Math.floor(Math.random() * 4) });
    const eps = await Promise.all([1, 2, 3].map((i) => createEndpoint(chub, { url: `${conc.url}/c${i}`, eventTypes: ['consumption.overage'] })));
    const [job] = webhookJobs(chub.services, pino({ level: 'silent' }));
    const signal = new AbortController().signal;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) await emit(chub, { type: 'consumption.overage', key: key('conc'), payload: { n: round * 5 + i } });
      await Promise.all([job!.execute(signal), job!.execute(signal), chub.services.webhooks.deliverDue(), chub.services.webhooks.deliverDue()]);
    }
    await tickUntil(chub, async () => {
      for (const e of eps) if (!(await deliveries(chub, e.id)).every((d) => d.status === 'DELIVERED')) return false;
      return true;
    });

    expect(conc.received).toHaveLength(45);
    expect(new Set(conc.received.map((r) => r.id)).size).toBe(45);
    for (const i of [1, 2, 3]) expect(conc.on(`/c${i}`).map((r) => r.json.data.n)).toEqual([...Array(15).keys()]);
    const [{ n }] = await chub.ds.query(
      `SELECT count(*)::int AS n FROM webhook_attempt a JOIN webhook_delivery d ON d.id = a.delivery_id WHERE d.endpoint_id = ANY($1)`,
      [eps.map((e) => e.id)],
    );
    expect(n).toBe(45);
    await conc.stop();
  });
});

describe('secret rotation', () => {
  it('signs with both secrets while the old one is kept, then with the new one only', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/rotate`, eventTypes: ['usage.threshold'] });
    const rotate = `mutation ($id: ID!, $h: Int) { rotateWebhookSecret(id: $id, keepPreviousHours: $h) { secret endpoint { id secretRotatedAt previousSecretExpiresAt } } }`;
    const r1 = await hub.ok<{ rotateWebhookSecret: { secret: string; endpoint: { previousSecretExpiresAt: string | null } } }>(rotate, { id: ep.id, h: 24 });
    const fresh = r1.rotateWebhookSecret.secret;
    expect(fresh).not.toBe(ep.secret);
    expect(r1.rotateWebhookSecret.endpoint.previousSecretExpiresAt).not.toBeNull();
    await emit(hub, { type: 'usage.threshold', key: key('rot'), payload: {} });
    await hub.services.webhooks.deliverDue();
    const during = rx.on('/rotate')[0]!;
    expect(during.signature.split(',')).toHaveLength(2);
    expect(verifyWebhookSignature(fresh, during.timestamp, during.body, during.signature)).toBe(true);
    expect(verifyWebhookSignature(ep.secret, during.timestamp, during.body, during.signature)).toBe(true);

    const r2 = await hub.ok<{ rotateWebhookSecret: { secret: string; endpoint: { previousSecretExpiresAt: string | null } } }>(rotate, { id: ep.id, h: 0 });
    expect(r2.rotateWebhookSecret.endpoint.previousSecretExpiresAt).toBeNull();
    await emit(hub, { type: 'usage.threshold', key: key('rot'), payload: {} });
    await hub.services.webhooks.deliverDue();
    const after = rx.on('/rotate')[1]!;
    expect(after.signature.split(',')).toHaveLength(1);
    expect(verifyWebhookSignature(r2.rotateWebhookSecret.secret, after.timestamp, after.body, after.signature)).toBe(true);
    expect(verifyWebhookSignature(fresh, after.timestamp, after.body, after.signature)).toBe(false);
  });

  it('pingWebhookEndpoint sends a webhook.ping to that endpoint only', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/ping`, eventTypes: ['compliance.finding'] });
    const res = await hub.ok<{ pingWebhookEndpoint: { id: string; status: string; eventType: string } }>(
      `mutation ($id: ID!) { pingWebhookEndpoint(id: $id) { id status eventType } }`,
      { id: ep.id },
    );
    expect(res.pingWebhookEndpoint).toMatchObject({ status: 'PENDING', eventType: 'webhook.ping' });
    await hub.services.webhooks.deliverDue();
    const [got] = rx.on('/ping');
    expect(got).toMatchObject({ id: res.pingWebhookEndpoint.id, event: 'webhook.ping' });
    expect(got!.json.data).toMatchObject({ endpointId: ep.id });
    expect(verifyWebhookSignature(ep.secret, got!.timestamp, got!.body, got!.signature)).toBe(true);
  });
});
