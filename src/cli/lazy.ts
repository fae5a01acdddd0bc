/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * The hub's heavy modules, loaded when a command runs rather than when the CLI starts: the
 * server (Fastify, Apollo, the GraphQL schema), TypeORM and its entities, the services. Loading
 * them all took ~1 s of every `ehub` start (ADR 0067); `ehub --help` and the offline checks
 * (`verify-certificate --jwks <file>`, `verify-artifact`) need none of them, and a command that
 * opens the database loads only what it uses.
 *
 * `require` behind a function, typed with `typeof import(...)`: the CLI runs as CommonJS,
 * compiled (dist) or on the fly (@swc-node/register), and a `require` resolves the same way in
 * both. Command modules take these modules from here and import only their types at the top.
 * test/foundation/cli.int-spec.ts ("loads the server, TypeORM and the schema only for the
 * commands that use them") checks which modules a start loads.
 */
export const load = {
  hub: () => require('../server/hub') as typeof import('../server/hub'),
  logger: () => require('../server/logger') as typeof import('../server/logger'),
  database: () => require('../db/open-database') as typeof import('../db/open-database'),
  services: () => require('../server/services') as typeof import('../server/services'),
  db: () => require('../db/db') as typeof import('../db/db'),
  backup: () => require('../db/backup') as typeof import('../db/backup'),
  secretRotation: () => require('../db/secret-rotation') as typeof import('../db/secret-rotation'),
  identity: () => require('../identity/identity.service') as typeof import('../identity/identity.service'),
  revenueExports: () => require('../revenue/exports') as typeof import('../revenue/exports'),
  schema: () => require('../server/schema') as typeof import('../server/schema'),
  operationsTable: () => require('../auth/operations-table') as typeof import('../auth/operations-table'),
  openApi: () => require('../server/openapi') as typeof import('../server/openapi'),
  openApiDocument: () => require('../server/openapi-document') as typeof import('../server/openapi-document'),
  demo: () => require('./demo') as typeof import('./demo'),
};
