import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Roles } from '../auth/role';
import { authenticateRequest, sendAppError, sendError } from '../auth/http-auth';
import { AppError } from '../common/errors';
import { API_KEY, AUTH_ERRORS, COMMON_ERRORS, documentedOnly, errorResponse, object } from '../common/http-schemas';
import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import { readUsageNdjson } from './usage.ndjson';
import { MAX_NDJSON_EVENTS, UsageRejectionCode } from './usage.rules';

export const NDJSON = 'application/x-ndjson';

/** The route's documentation (docs/openapi.md); the body is read and checked line by line by hand. */
const SCHEMA = {
  tags: ['usage'],
  summary: 'Ingest a batch of usage events as NDJSON (the bulk form of recordUsage)',
  description:
    `Up to ${MAX_NDJSON_EVENTS} events, one JSON object per line, each with the fields of the GraphQL UsageEventInput: id, meter, quantity, occurredAt, deployment, ` +
    'accountId or accountRef, and optionally device, source, properties. Exactly once per event id: a repeat is a duplicate, the same id with other values a conflict. ' +
    'The batch is taken in one transaction and answered after the commit; an invalid event is listed in `rejected` and the others are taken.',
  operationId: 'ingestUsage',
  security: API_KEY,
  body: {
    content: {
      [NDJSON]: {
        schema: { type: 'string', description: 'NDJSON: one usage event (a JSON object with the UsageEventInput fields) per line.' },
      },
    },
  },
  response: {
    200: object(
      {
        accepted: { type: 'integer', minimum: 0 },
        duplicates: { type: 'integer', minimum: 0 },
        conflicts: { type: 'integer', minimum: 0 },
        queued: { type: 'integer', minimum: 0, description: 'With EHUB_USAGE_STREAM: the events handed to the durable stream (accepted + duplicates), written to the database after this answer. Absent otherwise.' },
        rejected: {
          type: 'array',
          items: object({
            index: { type: 'integer', minimum: 0, description: 'The event\'s line, from 0.' },
            id: { type: ['string', 'null'] },
            code: { type: 'string', enum: Object.values(UsageRejectionCode) },
            message: { type: 'string' },
          }),
        },
      },
      { optional: ['queued'], description: 'The batch was taken: every event is accepted, a duplicate, or listed in rejected (conflicts included).' },
    ),
    400: errorResponse('The body ended early (BAD_REQUEST, USAGE_BODY_INCOMPLETE); nothing was ingested.'),
    ...AUTH_ERRORS,
    413: errorResponse(`Over EHUB_USAGE_MAX_BODY_BYTES (USAGE_BODY_TOO_LARGE) or over ${MAX_NDJSON_EVENTS} events (USAGE_BATCH_TOO_LARGE); nothing was ingested.`),
    415: errorResponse(`The body is not ${NDJSON} (UNSUPPORTED_MEDIA_TYPE, USAGE_NDJSON_REQUIRED).`),
    ...COMMON_ERRORS,
    503: errorResponse('With EHUB_USAGE_STREAM: the stream (NATS JetStream) did not take the batch (UPSTREAM_UNAVAILABLE, USAGE_STREAM_UNAVAILABLE); send the same batch again.'),
  },
};

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

    scope.post('/v1/usage', { bodyLimit: maxBytes, schema: SCHEMA, validatorCompiler: documentedOnly }, async (req, reply) => {
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
      try {
        const answer = await services.usage.submit(ctx, outcome.events);
        return reply.code(200).send(answer);
      } catch (err) {
        // EHUB_USAGE_STREAM set and JetStream did not acknowledge: 503, send the same batch again.
        if (err instanceof AppError && err.code === 'UPSTREAM_UNAVAILABLE') return sendAppError(reply, err, { UPSTREAM_UNAVAILABLE: 503 });
        throw err;
      }
    });
  });
}
