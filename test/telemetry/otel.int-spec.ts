import { dropProxyEnv } from '../support/salesforce';
dropProxyEnv();
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from '../support/test-hub';
import { CLI, spawnServe } from '../support/serve-process';
import { OtlpReceiver, type ReceivedSpan } from './otlp-receiver';

/**
 * OpenTelemetry end to end (issue 17, ADR 0044): the real CLI, started as users start it, with
 * the standard OTEL_* variables pointing at an OTLP/HTTP receiver in this test. A sync run is
 * one trace with a span per connector call (API, object, record count, outcome) and the
 * database spans inside; a GraphQL request is one trace with its operation and its database
 * spans; metrics are exported; nothing secret or personal reaches the exporter.
 */
const ROOT = path.resolve(__dirname, '../..');
const ADMIN_KEY = `ehub_oteltest_${'Q7'.repeat(16)}`;
const SECRET_KEY = 'otel-test-secret-key-0123456789abcdef0123';
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'];

let hub: TestHub;
let rx: OtlpReceiver;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  hub = await startTestHub({ EHUB_SECRET_KEY: SECRET_KEY });
  rx = await OtlpReceiver.start();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-otel-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rx?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  await hub?.close();
});

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { EHUB_ADMIN_KEY: _a, ...rest } = process.env;
  const e: NodeJS.ProcessEnv = {
    ...rest,
    DATABASE_URL: hub.databaseUrl,
    EHUB_DATA_DIR: dataDir,
    EHUB_SECRET_KEY: SECRET_KEY,
    EHUB_JOBS_ENABLED: 'false',
    NODE_ENV: 'test',
    NODE_OPTIONS: '',
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'ehub-otel-test',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    ...extra,
  };
  for (const k of PROXY_VARS) delete e[k];
  return e;
}

const attr = (s: ReceivedSpan, k: string) => s.attributes[k];

describe('OpenTelemetry', () => {
  jest.setTimeout(120_000);

  it('a sync run is one trace: sync.run > sync.pull/sync.push > connector calls with API, object, records and outcome, database spans inside', async () => {
    await promisify(execFile)(process.execPath, [...CLI, 'demo', '--salesforce'], { cwd: ROOT, env: env() });
    // The CLI flushes before it exits: everything is here already.
    const runs = rx.spans.filter((s) => s.name === 'sync.run');
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.service).toBe('ehub-otel-test');
    expect(run.attributes).toMatchObject({ 'ehub.sync.connection.type': 'salesforce', 'ehub.sync.trigger': 'MANUAL', 'ehub.sync.outcome': 'PARTIAL' });
    expect(run.parentSpanId).toBeNull();

    const inRun = rx.trace(run.traceId);
    const pulls = rx.children(run).filter((s) => s.name === 'sync.pull');
    expect(pulls.map((s) => attr(s, 'ehub.sync.object'))).toEqual(expect.arrayContaining(['accounts', 'contacts', 'orders']));
    const accounts = pulls.find((s) => attr(s, 'ehub.sync.object') === 'accounts')!;
    expect(accounts.attributes).toMatchObject({ 'ehub.sync.created': 4, 'ehub.sync.outcome': 'SUCCEEDED' });

    // Connector calls: each page pulled is a span under its pull, with what it took.
    const accountPages = rx.children(accounts).filter((s) => s.name === 'connector.pull');
    expect(accountPages.length).toBeGreaterThanOrEqual(2); // the page, then the end of the stream
    expect(accountPages.reduce((n, s) => n + Number(attr(s, 'ehub.connector.records')), 0)).toBe(4);
    for (const s of accountPages) {
      expect(s.attributes).toMatchObject({ 'ehub.connector.type': 'salesforce', 'ehub.connector.api': 'salesforce.pull', 'ehub.sync.object': 'accounts' });
      expect(['ok', 'done']).toContain(attr(s, 'ehub.connector.outcome'));
    }
    expect(accountPages.some((s) => Number(attr(s, 'ehub.connector.api_calls')) >= 1)).toBe(true);

    const push = rx.children(run).find((s) => s.name === 'sync.push')!;
    const pushes = rx.children(push).filter((s) => s.name === 'connector.push');
    expect(pushes.length).toBeGreaterThanOrEqual(1);
    expect(pushes.reduce((n, s) => n + Number(attr(s, 'ehub.connector.records')), 0)).toBe(12); // the 12 items the demo writes back
    for (const s of pushes) expect(s.attributes).toMatchObject({ 'ehub.connector.type': 'salesforce', 'ehub.connector.outcome': 'ok', 'ehub.connector.failed': 0 });

    // The database work of the run is in the same trace, statements without values.
    const db = inRun.filter((s) => attr(s, 'db.system') === 'postgresql' || attr(s, 'db.system.name') === 'postgresql');
    expect(db.length).toBeGreaterThan(10);
    // And the HTTP calls to the (emulated) Salesforce API, as client spans of the connector calls.
    const outgoing = inRun.filter((s) => s.kind === 3 /* CLIENT */ && !(attr(s, 'db.system') || attr(s, 'db.system.name')));
    expect(outgoing.length).toBeGreaterThan(0);

    const everything = rx.bodies.join('\n');
    expect(everything).not.toContain('ehub-demo-secret');
    expect(everything).not.toContain(SECRET_KEY);
    expect(everything).not.toMatch(/Bearer [A-Za-z0-9]/);
  });

  it('a GraphQL request is one trace with its operation and database spans; routes are named, query strings and keys stay out; metrics are exported', async () => {
    const served = await spawnServe(env({ LOG_LEVEL: 'info', EHUB_ADMIN_KEY: ADMIN_KEY }));
    const { proc, url } = served;
    children.push(proc);

    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ query: 'query OtelAccounts { accounts(first: 5) { totalCount } }', operationName: 'OtelAccounts' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
    const csv = await fetch(`${url}/v1/exports/journal-entries.csv?from=2026-01&to=2026-02`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(csv.status).toBe(200);
    await csv.text();

    await rx.waitFor(() => rx.spans.some((s) => s.name === 'graphql.query OtelAccounts') && rx.spans.some((s) => attr(s, 'http.route') === '/v1/exports/journal-entries.csv'));
    const op = rx.spans.find((s) => s.name === 'graphql.query OtelAccounts')!;
    expect(op.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'OtelAccounts', 'graphql.errors': 0 });
    const trace = rx.trace(op.traceId);
    const server = trace.find((s) => s.kind === 2 /* SERVER */)!;
    expect(server.name).toBe('POST /graphql');
    expect(server.parentSpanId).toBeNull();
    expect(op.parentSpanId).toBe(server.spanId);
    expect(trace.filter((s) => attr(s, 'db.system') === 'postgresql' || attr(s, 'db.system.name') === 'postgresql').length).toBeGreaterThan(0);

    const exportSpan = rx.spans.find((s) => attr(s, 'http.route') === '/v1/exports/journal-entries.csv')!;
    expect(exportSpan.name).toBe('GET /v1/exports/journal-entries.csv');

    await rx.waitFor(() => rx.metricNames.size > 0);
    expect([...rx.metricNames].some((n) => n.startsWith('http.server.'))).toBe(true);

    proc.kill('SIGTERM');
    await served.exited;
    const everything = rx.bodies.join('\n');
    expect(everything).not.toContain(ADMIN_KEY.slice(14));
    expect(everything).not.toContain('from=2026-01');
    expect(everything).not.toContain('OtelAccounts { accounts'); // the document is not recorded
  });
});
