import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { createEndpoint, emit, Receiver } from './receiver';

/** Managing endpoints over GraphQL: validation, roles, audit, secrecy, account scope. */
let hub: TestHub;
let rx: Receiver;
beforeAll(async () => {
  hub = await startTestHub();
  rx = await Receiver.start();
});
afterAll(async () => {
  await rx?.stop();
  await hub?.close();
});

const CREATE = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url description eventTypes accountId status createdAt } } }`;
const count = async (table: string) => (await hub.ds.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

describe('createWebhookEndpoint', () => {
  it('returns the endpoint and its secret once; the secret is stored encrypted and never shown or audited again', async () => {
    const res = await hub.ok<{ createWebhookEndpoint: { secret: string; endpoint: Record<string, unknown> } }>(CREATE, {
      input: { url: `${rx.url}/a`, eventTypes: ['usage.threshold', 'compliance.finding'], description: '  CS alerts  ' },
    });
    const { secret, endpoint } = res.createWebhookEndpoint;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(endpoint).toMatchObject({ url: `${rx.url}/a`, description: 'CS alerts', eventTypes: ['usage.threshold', 'compliance.finding'], accountId: null, status: 'ACTIVE' });

    const listed = await hub.ok(`{ webhookEndpoints { totalCount edges { node { id url eventTypes status secretRotatedAt } } } }`);
    expect(JSON.stringify(listed)).toContain(endpoint.id as string);
    const one = await hub.ok(`query ($id: ID!) { webhookEndpoint(id: $id) { id url } }`, { id: endpoint.id });
    const everywhere = [
      JSON.stringify(listed),
      JSON.stringify(one),
      JSON.stringify(await hub.ds.query(`SELECT * FROM webhook_endpoint`)),
      JSON.stringify(await hub.ds.query(`SELECT * FROM audit_log`)),
    ].join('\n');
    expect(everywhere).not.toContain(secret);
    expect(everywhere).not.toContain(secret.slice('whsec_'.length));
    const [audit] = await hub.ds.query(`SELECT action, after FROM audit_log WHERE entity = 'WebhookEndpoint' AND entity_id = $1`, [endpoint.id]);
    expect(audit).toMatchObject({ action: 'CREATE', after: { url: `${rx.url}/a`, status: 'ACTIVE' } });
    expect(Object.keys(audit.after)).not.toEqual(expect.arrayContaining(['secretCiphertext']));
  });

  it.each([
    [{ url: 'ftp://example.com/x', eventTypes: ['usage.threshold'] }, 'input.url', /http or https/],
    [{ url: 'https://user:pw@example.com/x', eventTypes: ['usage.threshold'] }, 'input.url', /credentials/],
    [{ url: 'example.com/hook', eventTypes: ['usage.threshold'] }, 'input.url', /absolute URL/],
    [{ url: 'https://example.com/x', eventTypes: ['usage.treshold'] }, 'input.eventTypes.0', /unknown event type/],
    [{ url: 'https://example.com/x', eventTypes: [] }, 'input.eventTypes', /at least one/],
  ])('refuses %j with BAD_USER_INPUT and creates nothing', async (input, path, message) => {
    const before = await count('webhook_endpoint');
    const res = await hub.gql(CREATE, { input });
    const err = gqlError(res);
    expect(err.code).toBe('BAD_USER_INPUT');
    expect(err.subCode).toBe('WEBHOOK_ENDPOINT_INVALID');
    expect(err.fields).toEqual([{ path, message: expect.stringMatching(message) }]);
    expect(await count('webhook_endpoint')).toBe(before);
  });

  it('refuses an unknown account with NOT_FOUND', async () => {
    const id = '00000000-0000-4000-8000-00000000abcd';
    const err = gqlError(await hub.gql(CREATE, { input: { url: 'https://example.com/x', eventTypes: ['*'], accountId: id } }));
    expect(err).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
  });
});

describe('updating, disabling, rotating', () => {
  it('updates url, types and note; refuses bad values; every change is audited', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/u`, eventTypes: ['usage.threshold'] });
    const UPDATE = `mutation ($id: ID!, $input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) { url eventTypes description updatedAt } }`;
    const input = { url: `${rx.url}/u2`, eventTypes: ['*'], description: 'all events' };
    const first = await hub.ok<{ updateWebhookEndpoint: Record<string, unknown> }>(UPDATE, { id: ep.id, input });
    expect(first.updateWebhookEndpoint).toMatchObject(input);
    const again = await hub.ok<{ updateWebhookEndpoint: Record<string, unknown> }>(UPDATE, { id: ep.id, input });
    expect(again.updateWebhookEndpoint).toEqual(first.updateWebhookEndpoint); // nothing changed the second time

    const bad = gqlError(await hub.gql(UPDATE, { id: ep.id, input: { url: 'https://a:b@example.com' } }));
    expect(bad).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'WEBHOOK_ENDPOINT_INVALID' });
    const actions: { action: string }[] = await hub.ds.query(`SELECT action FROM audit_log WHERE entity = 'WebhookEndpoint' AND entity_id = $1 ORDER BY at`, [ep.id]);
    expect(actions.map((a) => a.action)).toEqual(['CREATE', 'UPDATE']);
  });

  it('disable and enable are idempotent and audited once each', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/d`, eventTypes: ['usage.threshold'] });
    const disable = `mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { status disabledAt } }`;
    const enable = `mutation ($id: ID!) { enableWebhookEndpoint(id: $id) { status disabledAt } }`;
    const d1 = await hub.ok<{ disableWebhookEndpoint: { status: string; disabledAt: string } }>(disable, { id: ep.id });
    expect(d1.disableWebhookEndpoint.status).toBe('DISABLED');
    expect(await hub.ok(disable, { id: ep.id })).toEqual(d1);
    const { webhookEndpoints: active } = await hub.ok<{ webhookEndpoints: { edges: { node: { id: string } }[] } }>(`{ webhookEndpoints(first: 500) { edges { node { id } } } }`);
    expect(active.edges.map((e) => e.node.id)).not.toContain(ep.id);
    const { webhookEndpoints: all } = await hub.ok<{ webhookEndpoints: { edges: { node: { id: string } }[] } }>(
      `{ webhookEndpoints(first: 500, includeDisabled: true) { edges { node { id } } } }`,
    );
    expect(all.edges.map((e) => e.node.id)).toContain(ep.id);
    expect(await hub.ok(enable, { id: ep.id })).toEqual({ enableWebhookEndpoint: { status: 'ACTIVE', disabledAt: null } });
    await hub.ok(enable, { id: ep.id });
    const actions: { action: string }[] = await hub.ds.query(
      `SELECT action FROM audit_log WHERE entity = 'WebhookEndpoint' AND entity_id = $1 ORDER BY at`,
      [ep.id],
    );
    expect(actions.map((a) => a.action)).toEqual(['CREATE', 'DISABLE', 'ENABLE']);
  });

  it('rotating returns a new secret once and audits without it', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/r`, eventTypes: ['usage.threshold'] });
    const res = await hub.ok<{ rotateWebhookSecret: { secret: string } }>(`mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, { id: ep.id });
    const fresh = res.rotateWebhookSecret.secret;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(ep.secret);
    const text = JSON.stringify(await hub.ds.query(`SELECT * FROM audit_log`)) + JSON.stringify(await hub.ds.query(`SELECT * FROM webhook_endpoint`));
    expect(text).not.toContain(fresh.slice(6));
    expect(text).not.toContain(ep.secret.slice(6));
    const bad = gqlError(await hub.gql(`mutation ($id: ID!) { rotateWebhookSecret(id: $id, keepPreviousHours: 1000) { secret } }`, { id: ep.id }));
    expect(bad.code).toBe('BAD_USER_INPUT');
  });

  it('unknown and malformed ids are NOT_FOUND', async () => {
    const missing = '00000000-0000-4000-8000-000000000999';
    for (const id of [missing, 'not-a-uuid']) {
      expect(gqlError(await hub.gql(`query ($id: ID!) { webhookEndpoint(id: $id) { id } }`, { id }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'WEBHOOK_ENDPOINT_NOT_FOUND' });
      expect(gqlError(await hub.gql(`mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { id } }`, { id }))).toMatchObject({ subCode: 'WEBHOOK_ENDPOINT_NOT_FOUND' });
      expect(gqlError(await hub.gql(`mutation ($id: ID!) { replayDeadWebhookDeliveries(endpointId: $id) }`, { id }))).toMatchObject({ subCode: 'WEBHOOK_ENDPOINT_NOT_FOUND' });
      expect(gqlError(await hub.gql(`query ($id: ID!) { webhookDelivery(id: $id) { id } }`, { id }))).toMatchObject({ subCode: 'WEBHOOK_DELIVERY_NOT_FOUND' });
      expect(gqlError(await hub.gql(`mutation ($id: ID!) { replayWebhookDelivery(id: $id) { id } }`, { id }))).toMatchObject({ subCode: 'WEBHOOK_DELIVERY_NOT_FOUND' });
    }
  });
});

describe('deliveries and roles', () => {
  it('lists deliveries filtered by endpoint, status, type and account; OPERATIONS may read, not manage', async () => {
    const ep = await createEndpoint(hub, { url: `${rx.url}/list`, eventTypes: ['usage.threshold', 'entitlement.expiring'] });
    await emit(hub, { type: 'usage.threshold', key: `list:1:${ep.id}`, payload: { n: 1 } });
    await emit(hub, { type: 'entitlement.expiring', key: `list:2:${ep.id}`, payload: { n: 2 } });
    const ops = await hub.createKey(Role.OPERATIONS);
    const LIST = `query ($f: WebhookDeliveryFilter) { webhookDeliveries(filter: $f) { totalCount edges { node { eventType status event { payload } endpoint { id url } attempts { attempt } } } } }`;
    const byEndpoint = await hub.ok<{ webhookDeliveries: { totalCount: number } }>(LIST, { f: { endpointId: ep.id } }, ops);
    expect(byEndpoint.webhookDeliveries.totalCount).toBe(2);
    const byType = await hub.ok<{ webhookDeliveries: { edges: { node: Record<string, unknown> }[] } }>(LIST, { f: { endpointId: ep.id, eventType: 'entitlement.expiring', status: 'PENDING' } }, ops);
    expect(byType.webhookDeliveries.edges.map((e) => e.node)).toEqual([
      { eventType: 'entitlement.expiring', status: 'PENDING', event: { payload: { n: 2 } }, endpoint: { id: ep.id, url: `${rx.url}/list` }, attempts: [] },
    ]);
    expect((await hub.ok<{ webhookDeliveries: { totalCount: number } }>(LIST, { f: { endpointId: ep.id, status: 'DEAD' } }, ops)).webhookDeliveries.totalCount).toBe(0);
    expect(await hub.ok(`{ webhookEventTypes { type description } }`, {}, ops)).toEqual({
      webhookEventTypes: expect.arrayContaining([{ type: 'usage.threshold', description: expect.any(String) }]),
    });

    // A page of deliveries with their attempts costs a fixed number of statements (no N+1).
    await hub.services.webhooks.deliverDue();
    const few = await hub.countQueries(() => hub.ok(LIST, { f: { endpointId: ep.id } }));
    for (let i = 3; i < 13; i++) await emit(hub, { type: 'usage.threshold', key: `list:${i}:${ep.id}`, payload: { n: i } });
    await hub.services.webhooks.deliverDue();
    const many = await hub.countQueries(() => hub.ok(LIST, { f: { endpointId: ep.id } }));
    expect(many.count).toBe(few.count);

    for (const role of [Role.OPERATIONS, Role.ANALYST, Role.FINANCE, Role.INTEGRATION]) {
      const key = await hub.createKey(role);
      expect(gqlError(await hub.gql(CREATE, { input: { url: 'https://example.com/x', eventTypes: ['*'] } }, key)).code).toBe('FORBIDDEN');
      expect(gqlError(await hub.gql(`{ webhookEndpoints { totalCount } }`, {}, key)).code).toBe('FORBIDDEN');
      expect(gqlError(await hub.gql(`mutation ($id: ID!) { replayDeadWebhookDeliveries(endpointId: $id) }`, { id: ep.id }, key)).code).toBe('FORBIDDEN');
    }
    for (const role of [Role.ANALYST, Role.FINANCE, Role.INTEGRATION, Role.READONLY]) {
      expect(gqlError(await hub.gql(`{ webhookDeliveries { totalCount } }`, {}, await hub.createKey(role))).code).toBe('FORBIDDEN');
    }
  });
});

describe('account-scoped keys', () => {
  it('manage only endpoints of their own account and see only their deliveries', async () => {
    const acct = async (name: string) =>
      (await hub.ok<{ upsertAccount: { id: string } }>(`mutation ($n: String!) { upsertAccount(input: { name: $n }) { id } }`, { n: name })).upsertAccount.id;
    const [a, b] = [await acct('Scope A'), await acct('Scope B')];
    const scopedA = await hub.createKey(Role.ADMIN, a);
    // accountId omitted → forced to A; naming B → NOT_FOUND (B stays invisible).
    const own = await createEndpoint(hub, { url: `${rx.url}/sa`, eventTypes: ['usage.threshold'] }, scopedA);
    const [row] = await hub.ds.query(`SELECT account_id FROM webhook_endpoint WHERE id = $1`, [own.id]);
    expect(row.account_id).toBe(a);
    const err = gqlError(await hub.gql(CREATE, { input: { url: 'https://example.com/x', eventTypes: ['*'], accountId: b } }, scopedA));
    expect(err).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });

    const hubWide = await createEndpoint(hub, { url: `${rx.url}/sb`, eventTypes: ['usage.threshold'] });
    await emit(hub, { type: 'usage.threshold', key: `scope:${a}`, accountId: a, payload: {} });
    const listed = await hub.ok<{ webhookEndpoints: { edges: { node: { id: string } }[] } }>(`{ webhookEndpoints(first: 500, includeDisabled: true) { edges { node { id } } } }`, {}, scopedA);
    expect(listed.webhookEndpoints.edges.map((e) => e.node.id)).toEqual([own.id]);
    const deliveries = await hub.ok<{ webhookDeliveries: { edges: { node: { endpointId: string } }[] } }>(
      `{ webhookDeliveries(first: 500) { edges { node { endpointId } } } }`,
      {},
      scopedA,
    );
    expect(deliveries.webhookDeliveries.edges.map((e) => e.node.endpointId)).toEqual([own.id]);
    expect(gqlError(await hub.gql(`mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { id } }`, { id: hubWide.id }, scopedA))).toMatchObject({
      code: 'NOT_FOUND',
      subCode: 'WEBHOOK_ENDPOINT_NOT_FOUND',
    });
    expect(gqlError(await hub.gql(`query ($a: ID!) { webhookDeliveries(filter: { accountId: $a }) { totalCount } }`, { a: b }, scopedA))).toMatchObject({
      code: 'NOT_FOUND',
      subCode: 'ACCOUNT_NOT_FOUND',
    });
  });
});
