import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config';
import { systemContext } from '../../src/common/context';
import { Role, Roles } from '../../src/auth/role';
import { licensingRoute, LICENSING_REQUEST_SCHEMAS } from '../../src/licensing/licensing.routes';
import { createDataSource } from '../../src/db/data-source';
import { Db } from '../../src/db/db';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres';
import { buildApp } from '../../src/server/app';
import { runMigrations } from '../../src/db/open-database';
import { createLogger } from '../../src/server/logger';
import { buildHubSchema } from '../../src/server/schema';
import { createServices } from '../../src/server/services';
import { VERSION } from '../../src/version';
import type { BenchHub } from './types';

export interface BenchEnvironment {
  hub: BenchHub;
  bare: { url: string };
  database: { kind: 'embedded' | 'external'; serverVersion: string };
  close(): Promise<void>;
}

/** The bench-only route of the `check-floor` scenario, on the hub, and its fixed answer. */
export const CHECK_FLOOR_PATH = '/bench/check-floor';
export const CHECK_FLOOR_ANSWER = { allowed: true, code: 'VALID', reason: 'floor: nothing was checked', remaining: null, entitlementId: null, model: null, expiresAt: null };

/** The baseline: Fastify with one JSON route, parsing the same request body and answering the same shape as the hub. */
async function startBareServer(): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  app.post('/bare', async () => ({ data: { hub: { version: VERSION } } }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `${address}/bare` };
}

/**
 * A PostgreSQL server (embedded in a temporary directory, or BENCH_DATABASE_URL), a fresh
 * database in it, the hub built in-process on that database exactly as `ehub serve` builds
 * it (production mode, logs silent, jobs off), an admin key, and the bare baseline server.
 */
export async function startEnvironment(): Promise<BenchEnvironment> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => console.error('bench cleanup:', err));
    cleanups.length = 0;
  };
  try {
    let serverUrl = process.env.BENCH_DATABASE_URL;
    let embedded: EmbeddedDatabase | undefined;
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-bench-'));
    cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));
    if (!serverUrl) {
      await fs.chmod(dataDir, 0o755); // as root, PostgreSQL runs as another user and must reach it
      // BENCH_PG_SETTINGS: server settings for the embedded PostgreSQL, comma-separated (e.g. shared_buffers=4GB,max_wal_size=8GB).
      const settings = (process.env.BENCH_PG_SETTINGS ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      embedded = await startEmbeddedPostgres({ dataDir, persistent: false, settings });
      const e = embedded;
      cleanups.push(() => e.stop());
      serverUrl = e.url('postgres');
    }

    const name = `ehub_bench_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    const serverVersion = String((await admin.query('SHOW server_version')).rows[0].server_version);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    if (!embedded) {
      const url = serverUrl;
      cleanups.push(async () => {
        const c = new Client({ connectionString: url });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      });
    }
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;

    // EHUB_* tuning variables (pool size, limits) pass through, so variants can be compared.
    const config = loadConfig({
      // The bench drives the hub from one address with one key: rate limits sized so the
      // limiter runs but never throttles (override through the environment to measure it).
      EHUB_RATE_LIMIT_MAX: '100000000',
      EHUB_RATE_LIMIT_LICENSING_MAX: '100000000',
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      DATABASE_URL: u.toString(),
      EHUB_DATA_DIR: dataDir,
      EHUB_JOBS_ENABLED: 'false',
      EHUB_ADMIN_KEY: undefined,
    });
    const log = createLogger(config);
    const ds: DataSource = createDataSource(config.DATABASE_URL!, { poolSize: config.EHUB_DB_POOL_SIZE, applicationName: 'ehub-bench' });
    await ds.initialize();
    cleanups.push(() => ds.destroy());
    await runMigrations(ds, log);
    const services = createServices(new Db(ds), config);
    const app = await buildApp({ services, schema: await buildHubSchema(), log });
    // The floor of POST /v1/check (scenario check-floor): the same route machinery, no check.
    licensingRoute(app, services, CHECK_FLOOR_PATH, 'check', Roles.ANY, LICENSING_REQUEST_SCHEMAS.check, async () => CHECK_FLOOR_ANSWER);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const adminKey = (await services.apiKeys.create(systemContext(log, 'bench:setup'), { name: 'bench admin', role: Role.ADMIN })).key;

    const bare = await startBareServer();
    cleanups.push(() => bare.app.close());

    const hub: BenchHub = {
      url: `${address}/graphql`,
      adminKey,
      services,
      async post(query, variables, key = adminKey) {
        const res = await fetch(`${address}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body: JSON.stringify({ query, variables }),
        });
        return { status: res.status, text: await res.text() };
      },
    };
    return { hub, bare: { url: bare.url }, database: { kind: embedded ? 'embedded' : 'external', serverVersion }, close };
  } catch (err) {
    await close();
    throw err;
  }
}
