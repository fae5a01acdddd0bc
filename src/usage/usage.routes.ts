import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Roles } from '../auth/role';
import { authenticateRequest, sendError } from '../auth/http-auth';
import { AppError } from '../common/errors';
import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import { readUsageNdjson } from './usage.ndjson';
import { MAX_NDJSON_EVENTS } from './usage.rules';

export const NDJSON = 'application/x-ndjson';

/**
 * POST /v1/usage: up to 10,000 usage events as NDJSON (one JSON event per line), the bulk
 * form of recordUsage. The body is parsed line by line as it streams in, the batch is
 * ingested in one transaction once it is complete, and the answer (200, the same JSON as
 * recordUsage) is sent only after that commit. More lines: 413 and nothing is taken.
 */
export function registerUsageRoutes(app: FastifyInstance, services: Services): void {
  const { config } = services;
  const maxBytes = config.EHUB_USAGE_MAX_BODY_BYTES;
  // A line holds at most the properties plus a few bounded fields (ids, keys, a timestamp).
  const maxLineBytes = config.EHUB_USAGE_MAX_PROPERTIES_BYTES * 3 + 8192;

  void app.register(async (scope) => {
    // Only in this scope: NDJSON bodies reach the handler as the raw stream, unread.
    scope.addContentTypeParser(NDJSON, (_req, payload, done) => done(null, payload));

    scope.post('/v1/usage', { bodyLimit: maxBytes }, async (req, reply) => {
      const principal = await authenticateRequest(services.apiKeys, req);
      if (principal instanceof AppError) return sendError(reply, 401, 'UNAUTHENTICATED', principal.subCode, principal.message, principal.details);
      if (principal.role !== 'ADMIN' && !(Roles.OPERATE_OR_INTEGRATE as readonly string[]).includes(principal.role)) {
        return sendError(reply, 403, 'FORBIDDEN', 'AUTH_ROLE_NOT_ALLOWED', `A ${principal.role} key may not send usage (allowed: ${Roles.OPERATE_OR_INTEGRATE.join(', ')})`);
      }
      const body = req.body as Readable | undefined;
      if (!body || typeof (body as Readable).on !== 'function') {
        return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'USAGE_NDJSON_REQUIRED', `Send the events as NDJSON: content-type: ${NDJSON}, one JSON event per line`);
      }
      const length = Number(req.headers['content-length']);
      if (Number.isFinite(length) && length > maxBytes) {
        void reply.header('connection', 'close');
        return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', 'USAGE_BODY_TOO_LARGE', `The body is ${length} bytes, over the limit of ${maxBytes} (EHUB_USAGE_MAX_BODY_BYTES)`);
      }

      const ctx: RequestContext = { requestId: String(req.id), log: req.log as Logger, principal, operation: 'POST /v1/usage', auditWrites: 0 };
      let outcome;
      try {
        outcome = await readUsageNdjson(body, {
          maxEvents: MAX_NDJSON_EVENTS,
          maxBytes,
          maxLineBytes,
          parse: services.usage.parseLimits(),
        });
      } catch (err) {
        // The client went away mid-body: nothing was ingested, and nobody is left to answer.
        req.log.info({ err: (err as Error).message }, 'usage body ended early; nothing ingested');
        return reply.code(400).send({ errors: [{ message: 'The request body ended early', extensions: { code: 'BAD_REQUEST', subCode: 'USAGE_BODY_INCOMPLETE' } }] });
      }
      if (outcome.kind === 'too-large') {
        void reply.header('connection', 'close');
        return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', 'USAGE_BODY_TOO_LARGE', `The body is over the limit of ${maxBytes} bytes (EHUB_USAGE_MAX_BODY_BYTES); nothing was ingested`);
      }
      if (outcome.kind === 'too-many-events') {
        return sendError(
          reply,
          413,
          'PAYLOAD_TOO_LARGE',
          'USAGE_BATCH_TOO_LARGE',
          `A body takes at most ${MAX_NDJSON_EVENTS} events (lines); nothing was ingested: split it into smaller batches`,
          { limit: MAX_NDJSON_EVENTS },
        );
      }
      const answer = await services.usage.ingest(ctx, outcome.events);
      return reply.code(200).send(answer);
    });
  });
}
