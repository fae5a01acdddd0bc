import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { sendAppError } from '../auth/http-auth';
import { AppError } from '../common/errors';
import { COMMON_ERRORS, dateTime, DEVICE_OR_API_KEY, documentedOnly, errorResponse, object } from '../common/http-schemas';
import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import type { PollQuery } from './device-updates.service';


// The routes' documentation (docs/openapi.md); the service checks the input by hand, with its own codes.
const DEVICE_PARAMS = object({ id: { type: 'string', description: 'The device (activation) id.' } });
const CREDENTIAL_ERRORS = {
  401: errorResponse('No credential, or a token or key that does not authenticate (UNAUTHENTICATED).'),
  403: errorResponse('The token is another device\'s, or the key cannot reach the device\'s account, or the device is deactivated (FORBIDDEN).'),
  404: errorResponse('No such device (NOT_FOUND).'),
};
const reasons = { type: 'array', items: object({ code: { type: 'string' }, message: { type: 'string' } }) };
const OFFER = object(
  {
    release: {
      anyOf: [
        object({ id: { type: 'string', format: 'uuid' }, version: { type: 'string' }, channel: { type: 'string' }, releaseDate: { type: ['string', 'null'] }, notes: { type: ['string', 'null'] } }),
        { type: 'null' },
      ],
      description: 'The newest release the device may install; null when every newer one is held back.',
    },
    artifacts: {
      type: 'array',
      items: object({
        name: { type: 'string' },
        platform: { type: ['string', 'null'] },
        arch: { type: ['string', 'null'] },
        size: { type: 'integer', minimum: 0 },
        sha256: { type: 'string' },
        sha512: { type: 'string' },
        signature: { type: 'string' },
        url: { type: 'string', description: 'A fresh download link.' },
        expiresAt: dateTime,
      }),
    },
    heldBack: { type: 'array', items: object({ version: { type: 'string' }, reasons }), description: 'Newer releases the device may not install, and why.' },
  },
  { description: 'The update offered to the device.' },
);
const POLL_SCHEMA = {
  tags: ['devices'],
  summary: 'Poll for an update (a device with its update token, or a tool with an API key)',
  operationId: 'pollDeviceUpdate',
  security: DEVICE_OR_API_KEY,
  params: DEVICE_PARAMS,
  querystring: {
    type: 'object',
    properties: {
      current: { type: 'string', description: 'The version the device runs (recorded).' },
      channel: { type: 'string', enum: ['STABLE', 'RC', 'BETA', 'ALPHA', 'DEV'] },
      arch: { type: 'string' },
      type: { type: 'string', description: 'The device type (release compatibility).' },
    },
  },
  response: {
    200: { ...OFFER, description: 'A release to install (artifacts with fresh links), or release null with every newer one held back and why.' },
    204: { type: 'null', description: 'Nothing newer than `current`.' },
    400: errorResponse('An invalid query (BAD_USER_INPUT).'),
    ...CREDENTIAL_ERRORS,
    ...COMMON_ERRORS,
  },
};
const REPORT = object({ id: { type: 'string', format: 'uuid' }, device: { type: 'string', format: 'uuid' }, release: { type: 'string', format: 'uuid' }, status: { type: 'string', enum: ['DOWNLOADING', 'INSTALLED', 'FAILED'] }, reason: { type: ['string', 'null'] }, reportedAt: dateTime });
const REPORT_ANSWER = object({ report: REPORT, replayed: { type: 'boolean' } });
const REPORT_SCHEMA = {
  tags: ['devices'],
  summary: 'Report an install\'s progress (idempotent with Idempotency-Key)',
  operationId: 'reportDeviceUpdate',
  security: DEVICE_OR_API_KEY,
  params: DEVICE_PARAMS,
  headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255, description: 'The same key and body again: 200 with the first report.' } } },
  body: object(
    {
      release: { type: 'string', description: 'The release id the report is about.' },
      status: { type: 'string', enum: ['DOWNLOADING', 'INSTALLED', 'FAILED'] },
      reason: { type: ['string', 'null'], maxLength: 2000 },
    },
    { optional: ['reason'] },
  ),
  response: {
    200: { ...REPORT_ANSWER, description: 'A retry with the same key and body: the stored report.' },
    201: { ...REPORT_ANSWER, description: 'Stored.' },
    400: errorResponse('An invalid report (BAD_USER_INPUT with `fields`).'),
    ...CREDENTIAL_ERRORS,
    409: errorResponse('The idempotency key was used with another body (CONFLICT).'),
    ...COMMON_ERRORS,
  },
};

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

  app.get<{ Params: { id: string }; Querystring: PollQuery }>('/v1/devices/:id/update', { schema: POLL_SCHEMA, validatorCompiler: documentedOnly }, async (req, reply) => {
    try {
      const offer = await services.deviceUpdates.poll(ctxOf(req, 'GET /v1/devices/:id/update'), req.params.id, bearer(req), req.query);
      void reply.header('cache-control', 'private, no-store');
      if (!offer) return reply.code(204).send();
      return reply.code(200).send(offer);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/v1/devices/:id/update-status', { schema: REPORT_SCHEMA, validatorCompiler: documentedOnly }, async (req, reply) => {
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
