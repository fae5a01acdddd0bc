import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../common/errors';
import type { Principal } from '../common/context';
import type { ApiKeyService } from './api-key.service';

/** The plain-HTTP routes' error body: the same shape as a GraphQL error (`extensions.code`, `subCode`). */
export function sendError(reply: FastifyReply, status: number, code: string, subCode: string, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).send({ errors: [{ message, extensions: { code, subCode, ...extra } }] });
}

/** The key of a plain-HTTP request (`Authorization: Bearer <key>`): its principal, or the UNAUTHENTICATED error to answer with. */
export async function authenticateRequest(apiKeys: ApiKeyService, req: FastifyRequest): Promise<Principal | AppError> {
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
