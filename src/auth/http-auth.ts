import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../common/errors';
import type { Principal } from '../common/context';
import type { ApiKeyService } from './api-key.service';

/** The plain-HTTP routes' error body: the same shape as a GraphQL error (`extensions.code`, `subCode`). */
export function sendError(reply: FastifyReply, status: number, code: string, subCode: string, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).send({ errors: [{ message, extensions: { code, subCode, ...extra } }] });
}

/** HTTP status of an error code on the plain-HTTP routes (GraphQL carries the code in the body instead). */
const HTTP_STATUS: Record<string, number> = { BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409 };

/** The status for `code`; a route overrides codes whose meaning it narrows (e.g. LIMIT_EXCEEDED: 413 for a body, 409 for a licence). Unknown: 400. */
export function httpStatus(code: string, overrides: Partial<Record<string, number>> = {}): number {
  return overrides[code] ?? HTTP_STATUS[code] ?? 400;
}

/** An AppError as the plain-HTTP error body, its extensions (beside code and subCode) kept as details. */
export function sendAppError(reply: FastifyReply, err: AppError, overrides: Partial<Record<string, number>> = {}) {
  const { code: _c, subCode: _s, ...details } = err.extensions as Record<string, unknown>;
  return sendError(reply, httpStatus(err.code, overrides), err.code, err.subCode, err.message, details);
}

/**
 * The key of a plain-HTTP request (`Authorization: Bearer <key>`): its principal, or the
 * UNAUTHENTICATED error to answer with. Looked up once per request: the rate limiter, the
 * GraphQL context and the route all ask, and share the answer.
 */
const lookups = new WeakMap<FastifyRequest, Promise<Principal | AppError>>();
export function authenticateRequest(apiKeys: ApiKeyService, req: FastifyRequest): Promise<Principal | AppError> {
  let lookup = lookups.get(req);
  if (!lookup) lookups.set(req, (lookup = lookupKey(apiKeys, req)));
  return lookup;
}

async function lookupKey(apiKeys: ApiKeyService, req: FastifyRequest): Promise<Principal | AppError> {
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) return new AppError('UNAUTHENTICATED', header ? 'AUTH_HEADER_MALFORMED' : 'AUTH_KEY_MISSING', 'Send an API key: Authorization: Bearer ehub_<prefix>_<secret>');
  try {
    return await apiKeys.authenticate(m[1]!);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}
