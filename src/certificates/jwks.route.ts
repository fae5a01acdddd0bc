import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { systemContext } from '../common/context';
import type { CertificateService } from './certificate.service';

/**
 * `GET /.well-known/jwks.json`: the public keys that verify certificates, the current one
 * first. Public (no key needed: it holds only public keys). Clients may cache it for five
 * minutes; one that meets an unknown `kid` should fetch it again (a rotation happened).
 */
export async function serveJwks(certificates: CertificateService, req: FastifyRequest, reply: FastifyReply) {
  const jwks = await certificates.jwks(systemContext(req.log as Logger, 'jwks', String(req.id)));
  return reply.header('cache-control', 'public, max-age=300').send(jwks);
}
