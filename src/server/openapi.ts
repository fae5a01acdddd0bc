import path from 'node:path';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { ERROR_SCHEMA, COMMON_ERRORS, PUBLIC } from '../common/http-schemas';
import { VERSION } from '../version';

/** The committed document (like schema.graphql): `ehub openapi` writes it, `--check` compares. */
export const OPENAPI_FILE = path.resolve(__dirname, '../../openapi.json');

/** Routes left out of the document on purpose: GraphQL has its own contract, schema.graphql; the console's pages are for browsers. */
export const EXCLUDED_ROUTES = ['/graphql', '/graphiql', '/graphiql/assets/:name', '/console', '/console/', '/console/*', '/console/assets/:name'];

const DESCRIPTION = [
  'The Entitlement Hub\'s plain-HTTP routes: licensing, usage ingest, finance exports, CSV imports, artifact upload and download, device updates, health, JWKS and metrics.',
  'Everything else is GraphQL at POST /graphql (contract: schema.graphql), which this document leaves out, with GraphiQL (/graphql, /graphiql) and the web console (/console).',
  'Errors have one shape on every route (ErrorResponse): `{ errors: [{ message, extensions: { code, subCode, … } }] }`.',
  'Generated from the routes\' own schemas (docs/openapi.md); do not edit openapi.json by hand: run `npm run openapi:emit`.',
].join('\n\n');

export type OpenApiDocument = Record<string, unknown> & { openapi: string; paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> }>> };

/**
 * Registers @fastify/swagger: it only collects route schemas as routes are added (onRoute),
 * nothing of it runs per request. Call before any route is added.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // Response schemas document the answers; serializing stays JSON.stringify, so a schema can
  // never drop or coerce a field (test/openapi validates the real answers against them instead).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(ERROR_SCHEMA);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Entitlement Hub HTTP API', version: VERSION, description: DESCRIPTION },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'ehub_<prefix>_<secret>', description: 'An API key (`ehub keys create`, or createApiKey): `Authorization: Bearer <key>`. Roles decide the routes.' },
          deviceToken: { type: 'http', scheme: 'bearer', description: 'A device\'s update token, issued by activateDevice: `Authorization: Bearer <token>`. Only for that device\'s update routes.' },
        },
      },
      tags: [
        { name: 'licensing', description: 'Checks, consumption, devices, seats and leases (docs/licensing-http.md).' },
        { name: 'usage', description: 'Usage ingest (docs/usage.md).' },
        { name: 'finance', description: 'Revenue exports as CSV (docs/finance.md).' },
        { name: 'imports', description: 'CSV file imports into a csv connection (docs/csv-import.md).' },
        { name: 'delivery', description: 'Artifact upload and download links (docs/delivery.md).' },
        { name: 'devices', description: 'Device update polls and install reports (docs/delivery.md).' },
        { name: 'operations', description: 'Probes, metrics, the JWKS and this document.' },
      ],
    },
    // Untagged routes (GraphQL, GraphiQL, CORS preflight) stay out; every documented route has tags.
    hideUntagged: true,
    // Shared schemas become components named by their $id (ErrorResponse), not def-0.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
}

/** GET /openapi.json (added after the rate limiter, which hooks the routes added after it). */
export function serveOpenApi(app: FastifyInstance): void {
  app.get(
    '/openapi.json',
    {
      schema: {
        tags: ['operations'],
        summary: 'This OpenAPI document',
        operationId: 'openapi',
        security: PUBLIC,
        response: { 200: { description: 'The OpenAPI 3.1 document of these routes (the committed openapi.json).', type: 'object', additionalProperties: true, required: ['openapi', 'info', 'paths'] }, ...COMMON_ERRORS },
      },
    },
    async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(app.swagger()),
  );
}

/** The document as committed: stable JSON, two-space indented, a final newline. */
export function printOpenApi(doc: object): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Where `generated` differs from `committed`: null when equal, else a short report of the
 * first differing lines (what the drift check prints).
 */
export function openApiDiff(committed: string, generated: string): string | null {
  if (committed === generated) return null;
  const a = committed.split('\n');
  const b = generated.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const show = (lines: string[]) => lines.slice(i, i + 5).map((l) => `    ${l}`).join('\n') || '    (end of file)';
  return `openapi.json differs from the routes' schemas from line ${i + 1}:\n  committed:\n${show(a)}\n  generated:\n${show(b)}`;
}
