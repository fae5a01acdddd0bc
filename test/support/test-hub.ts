import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import pino from 'pino';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { loadConfig, type Config } from '../../src/config';
import { systemContext } from '../../src/common/context';
import { createDataSource, openReadDataSource } from '../../src/db/data-source';
import { Db } from '../../src/db/db';
import { Role } from '../../src/auth/role';
import { buildApp } from '../../src/server/app';
import { buildHubSchema } from '../../src/server/schema';
import { createServices, type Services } from '../../src/server/services';

export interface GqlResponse<T = Record<string, unknown>> {
  status: number;
  data: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> & { code?: string; subCode?: string } }[];
  headers: Headers;
}

export interface TestHub {
  url: string;
  app: FastifyInstance;
  services: Services;
  ds: DataSource;
  databaseUrl: string;
  adminKey: string;
  /** Runs a GraphQL operation over HTTP; `key` null sends no Authorization header. */
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GqlResponse<T>>;
  /** Like gql, but fails the test on any error and returns `data`. */
  ok<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<T>;
  createKey(role: Role, accountId?: string | null, name?: string): Promise<string>;
  /** Counts SQL statements run while `fn` runs (for N+1 tests). */
  countQueries<T>(fn: () => Promise<T>): Promise<{ result: T; count: number }>;
  close(): Promise<void>;
}

async function createDatabase(adminUrl: string, name: string, template: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        return;
      } catch (err) {
        // Two files cloning the template at the same instant can collide; try again.
        if (attempt >= 10 || !/being accessed by other users/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  } finally {
    await admin.end();
  }
}

/**
 * A hub on a fresh database cloned from the migrated template, listening on a random port,
 * with an admin key. One per test file (beforeAll), closed in afterAll.
 */
export async function startTestHub(overrides: Partial<Record<string, string>> = {}, opts: { attachTo?: TestHub } = {}): Promise<TestHub> {
  const adminUrl = process.env.EHUB_TEST_ADMIN_URL;
  const template = process.env.EHUB_TEST_TEMPLATE;
  if (!adminUrl || !template) throw new Error('test database not prepared: run through jest (globalSetup)');
  // attachTo: a second hub instance on the first one's database (which the first one drops).
  const name = opts.attachTo ? new URL(opts.attachTo.databaseUrl).pathname.slice(1) : `ehub_t_${randomBytes(6).toString('hex')}`;
  if (!opts.attachTo) await createDatabase(adminUrl, name, template);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const databaseUrl = u.toString();

  const config: Config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    DATABASE_URL: databaseUrl,
    EHUB_DATA_DIR: `/tmp/${name}`,
    EHUB_JOBS_ENABLED: 'false',
    // Suites hammer one hub from one address with one key; the abuse tests set their own limits.
    EHUB_RATE_LIMIT_MAX: '1000000',
    EHUB_RATE_LIMIT_LICENSING_MAX: '1000000',
    // Test receivers listen on 127.0.0.1, which the webhook egress guard refuses by default.
    EHUB_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1/32',
    // Matching after pulls would merge look-alike accounts other suites create on purpose;
    // test/identity turns it on for its own hub.
    EHUB_IDENTITY_MATCH_AFTER_PULL: 'false',
    ...overrides,
  });
  const log = pino({ level: config.LOG_LEVEL });
  const ds = createDataSource(databaseUrl, { poolSize: 20 });
  await ds.initialize();
  const readDs = await openReadDataSource(config.DATABASE_READ_URL, config.EHUB_DB_READ_POOL_SIZE);
  const services = createServices(new Db(ds, readDs), config);
  const schema = await buildHubSchema();
  const app = await buildApp({ services, schema, log });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const ctx = systemContext(log, 'test:setup');
  const adminKey = (await services.apiKeys.create(ctx, { name: 'test admin', role: Role.ADMIN })).key;

  let counter: { n: number } | null = null;
  const origQuery = ds.driver.createQueryRunner.bind(ds.driver);
  ds.driver.createQueryRunner = (mode) => {
    const runner = origQuery(mode);
    const q = runner.query.bind(runner);
    runner.query = ((...args: Parameters<typeof q>) => {
      // The request's own statements: API-key reads (a 10 s cache that may lapse under load) and the
      // batched lastUsedAt flush (a timer) belong to authentication, not to what is being counted.
      if (counter && !/\bapi_key\b/.test(String(args[0]))) counter.n++;
      return q(...args);
    }) as typeof runner.query;
    return runner;
  };

  // Every successful mutation sent through this helper must leave an audit row per root
  // field, with its request id: checked when the hub closes, for every test file.
  const succeededMutations: { requestId: string; fields: string[] }[] = [];
  const mutationFields = (query: string): string[] => {
    try {
      const op = parse(query).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      if (op?.operation !== 'mutation') return [];
      return op.selectionSet.selections.flatMap((sel) => (sel.kind === Kind.FIELD ? [sel.name.value] : []));
    } catch {
      return [];
    }
  };

  const gql = async <T,>(query: string, variables?: Record<string, unknown>, key: string | null = adminKey): Promise<GqlResponse<T>> => {
    const res = await fetch(`${address}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T | null; errors?: GqlResponse<T>['errors'] };
    const fields = mutationFields(query);
    if (fields.length && !body.errors?.length && res.headers.get('x-request-id')) {
      succeededMutations.push({ requestId: res.headers.get('x-request-id')!, fields });
    }
    return { status: res.status, data: body.data ?? null, errors: body.errors, headers: res.headers };
  };

  const assertMutationsAudited = async () => {
    if (succeededMutations.length === 0) return;
    const rows: { request_id: string; operation: string }[] = await ds.query(
      'SELECT DISTINCT request_id, operation FROM audit_log WHERE request_id = ANY($1)',
      [succeededMutations.map((m) => m.requestId)],
    );
    const seen = new Set(rows.map((r) => `${r.request_id} ${r.operation}`));
    const missing = succeededMutations.flatMap((m) => m.fields.filter((f) => !seen.has(`${m.requestId} ${f}`)).map((f) => `${f} (${m.requestId})`));
    if (missing.length) throw new Error(`${missing.length} mutations without an audit row, e.g. ${missing.slice(0, 5).join(', ')}`);
  };

  return {
    url: address,
    app,
    services,
    ds,
    databaseUrl,
    adminKey,
    gql,
    async ok<T>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<T> {
      const res = await gql<T>(query, variables, key === undefined ? adminKey : key);
      if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors, null, 2)}`);
      return res.data as T;
    },
    async createKey(role, accountId = null, keyName = `test ${role}`) {
      return (await services.apiKeys.create(ctx, { name: keyName, role, accountId })).key;
    },
    async countQueries(fn) {
      counter = { n: 0 };
      const prepared = Db.preparedQueries.count;
      try {
        const result = await fn();
        return { result, count: counter.n + (Db.preparedQueries.count - prepared) };
      } finally {
        counter = null;
      }
    },
    async close() {
      let auditProblem: unknown = null;
      await assertMutationsAudited().catch((err) => (auditProblem = err));
      await services.identity.stop();
      await app.close();
      await ds.destroy();
      if (readDs?.isInitialized) await readDs.destroy();
      if (opts.attachTo) {
        if (auditProblem) throw auditProblem;
        return;
      }
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      // Its data folder (keys, artifacts), shared with the instances attached to it.
      fs.rmSync(config.EHUB_DATA_DIR, { recursive: true, force: true });
      if (auditProblem) throw auditProblem;
    },
  };
}

export function gqlError(res: GqlResponse<unknown>): { code?: string; subCode?: string; message: string; fields?: unknown } {
  const e = res.errors?.[0];
  if (!e) throw new Error(`expected an error, got data ${JSON.stringify(res.data)}`);
  return { code: e.extensions?.code, subCode: e.extensions?.subCode, message: e.message, fields: e.extensions?.fields };
}
