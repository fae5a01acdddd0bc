import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { createEndpoint, deliveries, emit, Receiver, tickUntil } from './receiver';

/**
 * The webhook egress guard (SSRF): receivers on loopback, private, link-local and metadata
 * addresses are refused by default, at registration when the URL says so and at delivery on
 * the address actually connected to; EHUB_WEBHOOK_ALLOWED_HOSTS admits internal receivers.
 * `open` allow-lists the test receiver; `guarded` (same database) has no allow-list.
 */
let open: TestHub;
let guarded: TestHub;
let rx: Receiver;
const fast = { EHUB_WEBHOOK_BACKOFF_BASE_MS: '20', EHUB_WEBHOOK_BACKOFF_MAX_MS: '60000', EHUB_WEBHOOK_TIMEOUT_MS: '2000' };
beforeAll(async () => {
  open = await startTestHub({ ...fast, EHUB_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1/32, localhost' });
  guarded = await startTestHub({ ...fast, EHUB_WEBHOOK_ALLOWED_HOSTS: '' }, { attachTo: open });
  rx = await Receiver.start();
});
afterAll(async () => {
  await rx?.stop();
  await guarded?.close();
  await open?.close();
});

const CREATE = `mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }`;

it('refuses to register a literal internal address or localhost unless allow-listed', async () => {
  for (const url of [
    `${rx.url}/x`,
    'http://169.254.169.254/latest/meta-data/',
    'http://10.1.2.3/hook',
    'http://[::1]:8080/hook',
    'http://[::ffff:192.168.0.1]/hook',
    'http://[fd00:ec2::254]/',
    'http://localhost:8080/hook',
  ]) {
    const res = await guarded.gql(CREATE, { input: { url, eventTypes: ['*'] } });
    expect({ url, ...gqlError(res) }).toMatchObject({ url, code: 'BAD_USER_INPUT', subCode: 'WEBHOOK_ENDPOINT_INVALID', fields: [{ path: 'input.url' }] });
    expect(gqlError(res).message).toMatch(/EHUB_WEBHOOK_ALLOWED_HOSTS/);
  }
  expect(await guarded.ds.query(`SELECT 1 FROM webhook_endpoint`)).toEqual([]);
  // A public address or name registers (it is checked again on every connection).
  await guarded.ok(CREATE, { input: { url: 'https://hooks.example.com/ehub', eventTypes: ['compliance.finding'] } });
  await guarded.ds.query(`UPDATE webhook_endpoint SET status = 'DISABLED'`);
});

it('refuses at delivery the loopback address connected to, by address or by a name resolving to it; the allow-list admits both', async () => {
  const direct = await createEndpoint(open, { url: `${rx.url}/direct`, eventTypes: ['entitlement.expiring'] });
  const named = await createEndpoint(open, { url: `${rx.url.replace('127.0.0.1', 'localhost')}/named`, eventTypes: ['entitlement.expiring'] });
  await emit(open, { type: 'entitlement.expiring', key: 'egress:1', payload: { n: 1 } });

  await guarded.services.webhooks.deliverDue();
  const [d] = await deliveries(guarded, direct.id);
  const [n] = await deliveries(guarded, named.id);
  expect(d).toMatchObject({ status: 'FAILED', last_status_code: null });
  expect(d!.last_error).toMatch(/refused to connect to 127\.0\.0\.1 \(loopback address\).*EHUB_WEBHOOK_ALLOWED_HOSTS/);
  expect(n).toMatchObject({ status: 'FAILED', last_status_code: null });
  expect(n!.last_error).toMatch(/refused to connect to (127\.0\.0\.1|::1) \(loopback address of localhost\)/);
  expect(rx.received).toHaveLength(0);

  // The hub whose allow-list names the address (CIDR) and the host name delivers both.
  await tickUntil(open, async () => (await Promise.all([deliveries(open, direct.id), deliveries(open, named.id)])).every(([x]) => x!.status === 'DELIVERED'));
  expect(rx.on('/direct')).toHaveLength(1);
  expect(rx.on('/named')).toHaveLength(1);
});
