import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Role } from '../auth/role';
import { AppError } from '../common/errors';
import type { Principal, RequestContext } from '../common/context';
import type { Services } from '../server/services';
import { csvStream, primeExport, RevenueExports, type CsvExport, type ExportParams, type ExportRange } from './exports';

/** Who may pull finance exports. */
export const EXPORT_ROLES: readonly Role[] = [Role.ADMIN, Role.FINANCE];

const STATUS: Partial<Record<string, number>> = { BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404 };

function sendError(reply: FastifyReply, err: AppError) {
  const { code, subCode, message, details } = err;
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

/**
 * Finance exports as streamed CSV (text/csv, RFC 4180, amounts in integer minor units):
 * GET /v1/exports/revenue-waterfall.csv and GET /v1/exports/journal-entries.csv, both with
 * `from` and `to` as YYYY-MM and an optional `accountId`; FINANCE and ADMIN keys, an
 * account-scoped key only its own account. Errors before the first byte are JSON, like the
 * GraphQL API's; see docs/finance.md.
 */
export function registerRevenueRoutes(app: FastifyInstance, services: Services): void {
  const exports = new RevenueExports(services.db, services.config);
  const route = (path: string, name: string, build: (range: ExportRange) => CsvExport) => {
    app.get<{ Querystring: ExportParams }>(path, async (req, reply) => {
      let range: ExportRange;
      let exp: CsvExport;
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
  route('/v1/exports/revenue-waterfall.csv', 'revenue-waterfall', (r) => exports.waterfall(r));
  route('/v1/exports/journal-entries.csv', 'journal-entries', (r) => exports.journal(r));
}
