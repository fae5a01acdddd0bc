import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { sendAppError } from '../auth/http-auth';
import { AppError } from '../common/errors';
import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import type { PollQuery } from './device-updates.service';


function bearer(req: FastifyRequest): string | null {
  const m = req.headers.authorization ? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization) : null;
  return m ? m[1]! : null;
}

function fail(reply: FastifyReply, err: unknown) {
  if (!(err instanceof AppError)) throw err;
  return sendAppError(reply, err);
}

/**
 * Device updates (docs/delivery.md, ADR 0039). Credential: the device's update token (from
 * activateDevice) or an API key that reaches the device's account.
 *
 * GET /v1/devices/:id/update?current=&channel=&arch=&type= — 200 with the newest release the
 * device may install (artifacts with fresh links) and the newer ones held back with their
 * reasons; 200 with `release: null` when every newer release is held back; 204 when there is
 * nothing newer at all.
 *
 * POST /v1/devices/:id/update-status `{ release, status, reason }` (+ Idempotency-Key) —
 * 201 with the stored report; a retry with the same key and body: 200 with the same report.
 */
export function registerDeviceUpdateRoutes(app: FastifyInstance, services: Services): void {
  const ctxOf = (req: FastifyRequest, operation: string): RequestContext => ({ requestId: String(req.id), log: req.log as Logger, principal: null, operation, auditWrites: 0 });

  app.get<{ Params: { id: string }; Querystring: PollQuery }>('/v1/devices/:id/update', async (req, reply) => {
    try {
      const offer = await services.deviceUpdates.poll(ctxOf(req, 'GET /v1/devices/:id/update'), req.params.id, bearer(req), req.query);
      void reply.header('cache-control', 'private, no-store');
      if (!offer) return reply.code(204).send();
      return reply.code(200).send(offer);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/v1/devices/:id/update-status', async (req, reply) => {
    try {
      const device = await services.deviceUpdates.authenticate(req.params.id, bearer(req));
      const body = req.body && typeof req.body === 'object' ? req.body : {};
      const key = req.headers['idempotency-key'];
      const { report, replayed } = await services.deviceUpdates.report(ctxOf(req, 'POST /v1/devices/:id/update-status'), device, body, typeof key === 'string' ? key : null);
      return reply.code(replayed ? 200 : 201).send({ report, replayed });
    } catch (err) {
      return fail(reply, err);
    }
  });
}
