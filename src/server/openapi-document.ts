import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config';
import { createDataSource } from '../db/data-source';
import { Db } from '../db/db';
import { buildApp } from './app';
import type { OpenApiDocument } from './openapi';
import { buildHubSchema } from './schema';
import { createServices } from './services';

/**
 * The OpenAPI document of the hub's routes, without a database: the app is built (routes and
 * their schemas) on a data source that is never opened, asked for its document, and closed.
 * What `ehub openapi` writes and `--check` compares; the served /openapi.json is the same.
 */
export async function generateOpenApiDocument(): Promise<OpenApiDocument> {
  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    // Never connected: building the routes reads nothing.
    DATABASE_URL: 'postgres://openapi@127.0.0.1:9/openapi',
    EHUB_DATA_DIR: path.join(os.tmpdir(), 'ehub-openapi'),
  });
  const ds = createDataSource(config.DATABASE_URL!);
  const services = createServices(new Db(ds), config);
  const app = await buildApp({ services, schema: await buildHubSchema(), log: pino({ level: 'silent' }) });
  try {
    await app.ready();
    return structuredClone(app.swagger()) as OpenApiDocument;
  } finally {
    await app.close();
  }
}
