import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { RetentionService } from '../../src/jobs/retention';
import { startTestHub, type TestHub } from '../support/test-hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_SECRET_KEY: 'retention-test-secret-key-0123456789abcdef' });
});
afterAll(async () => hub?.close());

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);
const count = async (sql: string) => ((await hub.ds.query(sql)) as { n: number }[])[0]!.n;

describe('retention job', () => {
  it('removes delivered webhooks and done outbox items older than their ages, keeps everything else, and keeps audit rows unless told', async () => {
    // Through the service, not GraphQL: this test prunes the audit rows the test hub checks for.
    const ctx = systemContext(pino({ level: 'silent' }), 'test');
    const endpoint = (await hub.services.webhooks.createEndpoint(ctx, { url: 'http://127.0.0.1:9/hook', eventTypes: ['*'] } as never)).endpoint.id;
    const conn = await hub.services.sync.createConnection(ctx, {
      name: 'sf-ret',
      type: 'salesforce',
      options: { auth: 'client_credentials', loginUrl: 'http://127.0.0.1:9', clientId: 'x' },
      credentials: { clientSecret: 's' },
      enabled: false,
    } as never);
    // Deliveries: (status, age in days) — only old DELIVERED ones go; an event goes with its last delivery.
    const deliveries: [string, number][] = [['DELIVERED', 40], ['DELIVERED', 40], ['DELIVERED', 5], ['DEAD', 40], ['FAILED', 40], ['PENDING', 40]];
    for (const [i, [status, days]] of deliveries.entries()) {
      const [ev] = await hub.ds.query(`INSERT INTO webhook_event (type, key, payload, created_at) VALUES ('t', $1, '{}', $2) RETURNING id`, [`ret-${i}`, ago(days)]);
      const [d] = await hub.ds.query(
        `INSERT INTO webhook_delivery (event_id, endpoint_id, event_type, status, delivered_at, created_at) VALUES ($1, $2, 't', $3, $4, $4) RETURNING id`,
        [ev.id, endpoint, status, ago(days)],
      );
      await hub.ds.query(`INSERT INTO webhook_attempt (delivery_id, attempt, started_at, finished_at, duration_ms, outcome) VALUES ($1, 1, $2, $2, 1, 'FAILED')`, [d.id, ago(days)]);
    }
    const outbox: [string, number][] = [['DONE', 40], ['DONE', 40], ['DONE', 5], ['DEAD', 40], ['PENDING', 40]];
    for (const [i, [status, days]] of outbox.entries()) {
      await hub.ds.query(`INSERT INTO sync_outbox (connection_id, object, record_key, status, created_at, updated_at) VALUES ($1, 'account-fields', $2, $3, $4, $4)`, [
        conn.id,
        `r-${i}`,
        status,
        ago(days),
      ]);
    }
    await hub.ds.query(`UPDATE audit_log SET at = $1`, [ago(400)]);
    const audit = await count('SELECT count(*)::int AS n FROM audit_log');
    expect(audit).toBeGreaterThan(0);

    const retention = new RetentionService(hub.services.db, hub.services.config); // defaults: 30, 30, audit kept
    const removed = await retention.run({ batch: 1 });
    expect(removed).toEqual({ webhookDeliveries: 2, webhookEvents: 2, outboxItems: 2, auditRows: 0 });
    expect(await hub.ds.query(`SELECT status FROM webhook_delivery ORDER BY status`)).toEqual(['DEAD', 'DELIVERED', 'FAILED', 'PENDING'].map((status) => ({ status })));
    expect(await count(`SELECT count(*)::int AS n FROM webhook_event WHERE key LIKE 'ret-%'`)).toBe(4);
    expect(await count(`SELECT count(*)::int AS n FROM webhook_attempt`)).toBe(4);
    expect(await hub.ds.query(`SELECT record_key FROM sync_outbox ORDER BY record_key`)).toEqual(['r-2', 'r-3', 'r-4'].map((record_key) => ({ record_key })));
    expect(await count('SELECT count(*)::int AS n FROM audit_log')).toBe(audit);

    // Again: nothing more. With EHUB_AUDIT_RETENTION_DAYS, old audit rows go too.
    expect(await retention.run()).toEqual({ webhookDeliveries: 0, webhookEvents: 0, outboxItems: 0, auditRows: 0 });
    await hub.ds.query(`UPDATE audit_log SET at = now() WHERE id = (SELECT max(id) FROM audit_log)`);
    const pruning = new RetentionService(hub.services.db, { ...hub.services.config, EHUB_AUDIT_RETENTION_DAYS: 365 });
    expect((await pruning.run({ batch: 2 })).auditRows).toBe(audit - 1);
    expect(await count('SELECT count(*)::int AS n FROM audit_log')).toBe(1);
  });
});
