import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Role } from '../auth/role';
import { AppError } from '../common/errors';
import { API_KEY, COMMON_ERRORS, documentedOnly, errorResponse } from '../common/http-schemas';
import type { Principal, RequestContext } from '../common/context';
import type { Metrics } from '../server/metrics';
import type { Services } from '../server/services';
import { csvStream, JOURNAL_COLUMNS, primeExport, RevenueExports, WATERFALL_COLUMNS, type CsvExport, type ExportParams, type ExportRange } from './exports';
import { ExportThreads } from './export-thread';
import type { ExportKind } from './export-csv';

/** Who may pull finance exports. */
export const EXPORT_ROLES: readonly Role[] = [Role.ADMIN, Role.FINANCE];

const STATUS: Partial<Record<string, number>> = { BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, LIMIT_EXCEEDED: 429 };

function sendError(reply: FastifyReply, err: AppError) {
  const { code, subCode, message, details } = err;
  if (typeof details.retryAfterSeconds === 'number') reply.header('retry-after', String(details.retryAfterSeconds));
  return reply.code(STATUS[code] ?? 500).send({ errors: [{ message, extensions: { code, subCode, ...details } }] });
}

async function authenticate(services: Services, req: FastifyRequest): Promise<Principal> {
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw new AppError('UNAUTHENTICATED', header ? 'AUTH_HEADER_MALFORMED' : 'AUTH_KEY_MISSING', 'Send an API key: Authorization: Bearer ehub_<prefix>_<secret>');
  const principal = await services.apiKeys.authenticate(m[1]!);
  if (!EXPORT_ROLES.includes(principal.role)) {
    throw new AppError('FORBIDDEN', 'AUTH_ROLE_NOT_ALLOWED', `A ${principal.role} key may not export revenue (allowed: ${EXPORT_ROLES.join(', ')})`);
  }
  return principal;
}

/** The routes' documentation (docs/openapi.md); the query is checked by hand (resolveRange) with its own codes. */
function exportSchema(operationId: string, summary: string, columns: readonly string[]) {
  const month = { type: 'string', pattern: '^\\d{4}-\\d{2}$' };
  return {
    tags: ['finance'],
    summary,
    description: 'FINANCE and ADMIN keys; an account-scoped key exports only its own account. Amounts in integer minor units. Errors before the first byte are JSON.',
    operationId,
    security: API_KEY,
    querystring: {
      type: 'object',
      required: ['from', 'to'],
      properties: {
        from: { ...month, description: 'First month, YYYY-MM.' },
        to: { ...month, description: 'Last month, YYYY-MM (inclusive).' },
        accountId: { type: 'string', format: 'uuid', description: 'Only this account.' },
      },
    },
    response: {
      200: {
        description: `CSV (RFC 4180, CRLF line ends, a header line), streamed; content-disposition names the file. Columns: ${columns.join(', ')}.`,
        content: { 'text/csv': { schema: { type: 'string' } } },
      },
      400: errorResponse('from/to missing or not YYYY-MM, or from after to (BAD_USER_INPUT).'),
      401: errorResponse('No API key, or one that is unknown, revoked or expired (UNAUTHENTICATED).'),
      403: errorResponse('Not a FINANCE or ADMIN key (FORBIDDEN).'),
      404: errorResponse('The account does not exist or is outside the key\'s account (NOT_FOUND).'),
      ...COMMON_ERRORS,
      429: errorResponse('Rate limit exceeded (RATE_LIMITED), or EHUB_EXPORT_CONCURRENCY exports are running already (EXPORTS_BUSY); both LIMIT_EXCEEDED, the Retry-After header says when to retry.'),
    },
  };
}

/**
 * Finance exports as streamed CSV (text/csv, RFC 4180, amounts in integer minor units):
 * GET /v1/exports/revenue-waterfall.csv and GET /v1/exports/journal-entries.csv, both with
 * `from` and `to` as YYYY-MM and an optional `accountId`; FINANCE and ADMIN keys, an
 * account-scoped key only its own account. Errors before the first byte are JSON, like the
 * GraphQL API's; see docs/finance.md.
 */
export function registerRevenueRoutes(app: FastifyInstance, services: Services, metrics?: Metrics): void {
  // Every FETCH counted (ehub_export_fetches_total, ehub_export_source_rows_total): what the
  // database sent so far, against what the client received, shows the export streams.
  const onFetch = (kind: ExportKind, rows: number) => {
    metrics?.exportFetches.inc({ export: kind });
    metrics?.exportRows.inc({ export: kind }, rows);
  };
  const exports = new RevenueExports(services.db, services.config, onFetch);
  // The exports themselves run in worker threads (ADR 0062): their garbage stays out of the hub's heap.
  const threads = new ExportThreads((services.db.ds.options as { url: string }).url, exports.glCodes(), services.config.EHUB_EXPORT_CONCURRENCY, onFetch);
  const route = (path: string, name: string, schema: ReturnType<typeof exportSchema>, build: (range: ExportRange) => CsvExport<Uint8Array>) => {
    app.get<{ Querystring: ExportParams }>(path, { schema, validatorCompiler: documentedOnly }, async (req, reply) => {
      let range: ExportRange;
      let exp: CsvExport<Uint8Array>;
      try {
        const principal = await authenticate(services, req);
        const ctx: RequestContext = { requestId: String(req.id), log: req.log as Logger, principal, operation: `GET ${path}`, auditWrites: 0 };
        range = await exports.resolveRange(ctx, req.query);
        exp = await primeExport(build(range));
      } catch (err) {
        if (err instanceof AppError) return sendError(reply, err);
        throw err;
      }
      const file = `${name}-${range.from.slice(0, 7)}-${range.to.slice(0, 7)}.csv`;
      const body = csvStream(exp);
      // Past the first byte the status is sent: a failure can only cut the response short.
      body.on('error', (err) => req.log.error({ err, path }, 'export failed mid-stream'));
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${file}"`)
        .header('cache-control', 'no-store')
        .send(body);
    });
  };
  route('/v1/exports/revenue-waterfall.csv', 'revenue-waterfall', exportSchema('exportRevenueWaterfall', 'Revenue waterfall as CSV: per obligation and month, recognised, cumulative and deferred', WATERFALL_COLUMNS), (r) => threads.start('waterfall', r));
  route('/v1/exports/journal-entries.csv', 'journal-entries', exportSchema('exportJournalEntries', 'Journal entries as CSV', JOURNAL_COLUMNS), (r) => threads.start('journal', r));
}
