import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { CSV_OBJECTS, parseOptions, storeUpload, type CsvObject } from '../../connectors/csv';
import { Roles } from '../auth/role';
import { authenticateRequest, httpStatus, sendError } from '../auth/http-auth';
import { AppError } from '../common/errors';
import { API_KEY, AUTH_ERRORS, COMMON_ERRORS, dateTime, documentedOnly, errorResponse, nullableDateTime, object } from '../common/http-schemas';
import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import { SyncRunKind, SyncRunStatus, SyncTrigger } from './sync.entities';

const FILE = object({ sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, bytes: { type: 'integer', minimum: 0 } }, { description: 'The file as stored in the inbox.' });
const count = { type: 'integer', minimum: 0 };
const RUN = object(
  {
    id: { type: 'string', format: 'uuid' },
    connectionId: { type: 'string', format: 'uuid' },
    kind: { type: 'string', enum: Object.values(SyncRunKind) },
    object: { type: 'string' },
    trigger: { type: 'string', enum: Object.values(SyncTrigger) },
    status: { type: 'string', enum: Object.values(SyncRunStatus) },
    startedAt: dateTime,
    finishedAt: nullableDateTime,
    durationMs: { type: ['integer', 'null'] },
    read: count,
    created: count,
    updated: count,
    unchanged: count,
    deleted: count,
    failed: count,
    apiCalls: count,
    cursorFrom: { type: ['string', 'null'] },
    cursorTo: { type: ['string', 'null'] },
    error: { type: ['string', 'null'] },
    errors: { type: 'array', items: { type: 'object', additionalProperties: true, required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, record: { type: ['string', 'null'] }, row: { type: ['integer', 'null'] }, column: { type: ['string', 'null'] } } } },
  },
  { description: 'The sync run of the pull (as the GraphQL SyncRun).' },
);
const ANSWER = object(
  {
    file: FILE,
    duplicate: { type: 'boolean', description: 'The same bytes were received before: imported once, nothing started.' },
    runId: { type: ['string', 'null'], format: 'uuid', description: 'The pull started for the file (watch it in syncRuns).' },
    run: { anyOf: [RUN, { type: 'null' }], description: 'With ?wait=true: the finished run.' },
    message: { type: 'string', description: 'Why no pull was started or awaited.' },
  },
  { optional: ['message'] },
);

/** The route's documentation (docs/openapi.md); the request is checked by hand with its own codes. */
const SCHEMA = {
  tags: ['imports'],
  summary: 'Import a CSV file into a csv connection and start a pull of that object',
  description:
    'The body streams to the connection\'s inbox as <sha256>.csv (the same bytes again are a duplicate and start nothing), then a pull of that object starts. ' +
    'ADMIN, OPERATIONS and INTEGRATION keys, not account-scoped.',
  operationId: 'importCsv',
  security: API_KEY,
  params: object({ connection: { type: 'string', description: 'The csv connection\'s name.' }, object: { type: 'string', enum: [...CSV_OBJECTS], description: 'What the file holds.' } }),
  querystring: { type: 'object', properties: { wait: { type: 'string', enum: ['true', '1', 'false', '0'], description: 'true: answer once the pull finished, with the run.' } } },
  body: { content: { 'text/csv': { schema: { type: 'string', description: 'The CSV file (docs/csv-import.md for the columns of each object).' } }, 'application/csv': { schema: { type: 'string' } } } },
  response: {
    200: { ...ANSWER, description: 'A duplicate (nothing started), or with ?wait=true the finished pull.' },
    202: { ...ANSWER, description: 'Stored; the pull started (runId), or could not start now (message) and the next pull imports it.' },
    400: errorResponse('The connection is not a csv connection (IMPORT_CONNECTION_NOT_CSV), or the body ended early (IMPORT_BODY_INCOMPLETE).'),
    ...AUTH_ERRORS,
    404: errorResponse('No such connection, or no import of that object (NOT_FOUND).'),
    409: errorResponse('The pull was refused (CONFLICT), with ?wait=true.'),
    413: errorResponse('Over EHUB_IMPORT_MAX_BODY_BYTES (IMPORT_BODY_TOO_LARGE); nothing kept.'),
    415: errorResponse('The body is not text/csv (IMPORT_CSV_REQUIRED).'),
    ...COMMON_ERRORS,
  },
};


/**
 * POST /v1/imports/:connection/:object — a CSV file (`text/csv`) for a `csv` connection.
 * The body streams to disk as it arrives, into the connection's inbox as `<sha256>.csv`
 * (content-addressed: the same bytes again are a duplicate and start nothing); then a pull
 * of that object starts. The answer: 202 with the run's id (watch it in `syncRuns`), or with
 * `?wait=true` 200 with the finished run. Over EHUB_IMPORT_MAX_BODY_BYTES: 413, nothing kept.
 */
export function registerImportRoutes(app: FastifyInstance, services: Services): void {
  const maxBytes = services.config.EHUB_IMPORT_MAX_BODY_BYTES;
  // Pulls started by uploads: the server waits for them when it closes.
  const running = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled([...running]);
  });

  void app.register(async (scope) => {
    // Only in this scope: CSV bodies reach the handler as the raw stream, unread.
    scope.addContentTypeParser(['text/csv', 'application/csv'], { bodyLimit: maxBytes }, (_req, payload, done) => done(null, payload));

    scope.post<{ Params: { connection: string; object: string }; Querystring: { wait?: string } }>(
      '/v1/imports/:connection/:object',
      { bodyLimit: maxBytes, schema: SCHEMA, validatorCompiler: documentedOnly },
      async (req, reply) => {
        const principal = await authenticateRequest(services.apiKeys, req);
        if (principal instanceof AppError) return sendError(reply, 401, 'UNAUTHENTICATED', principal.subCode, principal.message, principal.details);
        if (!(Roles.OPERATE_OR_INTEGRATE as readonly string[]).includes(principal.role)) {
          return sendError(reply, 403, 'FORBIDDEN', 'AUTH_ROLE_NOT_ALLOWED', `A ${principal.role} key may not import files (allowed: ${Roles.OPERATE_OR_INTEGRATE.join(', ')})`);
        }
        if (principal.accountId) return sendError(reply, 403, 'FORBIDDEN', 'AUTH_KEY_SCOPED', 'An account-scoped key may not import files: an import spans every account');
        const { connection: name, object } = req.params;
        if (!(CSV_OBJECTS as readonly string[]).includes(object)) {
          return sendError(reply, 404, 'NOT_FOUND', 'IMPORT_OBJECT_UNKNOWN', `There is no import of "${object}"; a csv connection imports ${CSV_OBJECTS.join(', ')}`);
        }
        const body = req.body as Readable | undefined;
        if (!body || typeof body.on !== 'function') {
          return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'IMPORT_CSV_REQUIRED', 'Send the file as the body with content-type: text/csv');
        }
        const length = Number(req.headers['content-length']);
        if (Number.isFinite(length) && length > maxBytes) {
          void reply.header('connection', 'close');
          return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', 'IMPORT_BODY_TOO_LARGE', `The body is ${length} bytes, over the limit of ${maxBytes} (EHUB_IMPORT_MAX_BODY_BYTES)`);
        }
        const ctx: RequestContext = { requestId: String(req.id), log: req.log as Logger, principal, operation: `POST /v1/imports/${name}/${object}`, auditWrites: 0 };
        let conn;
        try {
          conn = await services.sync.connectionByName(name);
        } catch (err) {
          if (err instanceof AppError) return sendError(reply, httpStatus(err.code), err.code, err.subCode, err.message);
          throw err;
        }
        if (conn.type !== 'csv') {
          return sendError(reply, 400, 'BAD_USER_INPUT', 'IMPORT_CONNECTION_NOT_CSV', `Connection "${name}" is of type ${conn.type}; files are imported through a csv connection`);
        }

        let stored;
        try {
          stored = await storeUpload(parseOptions(conn.options).inboxDir, object as CsvObject, body, maxBytes);
        } catch (err) {
          if (body.destroyed || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') {
            req.log.info({ err: (err as Error).message }, 'import body ended early; nothing kept');
            return sendError(reply, 400, 'BAD_REQUEST', 'IMPORT_BODY_INCOMPLETE', 'The request body ended early; nothing was kept');
          }
          throw err;
        }
        if (stored.kind === 'too-large') {
          void reply.header('connection', 'close');
          return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', 'IMPORT_BODY_TOO_LARGE', `The body is over the limit of ${maxBytes} bytes (EHUB_IMPORT_MAX_BODY_BYTES); nothing was kept`);
        }
        const file = { sha256: stored.sha256, bytes: stored.bytes };
        req.log.info({ connection: name, object, ...file, duplicate: stored.kind === 'duplicate' }, 'import file received');
        if (stored.kind === 'duplicate') {
          return reply.code(200).send({ file, duplicate: true, runId: null, run: null, message: 'This file was received before; it is imported once' });
        }
        if (!conn.enabled || !conn.pullEnabled) {
          return reply.code(202).send({ file, duplicate: false, runId: null, run: null, message: 'Stored; the connection has pulls turned off, so it is imported when they are turned on' });
        }

        // The pull runs outside this request's lifetime unless the client asked to wait.
        let started: (id: string) => void = () => {};
        const runId = new Promise<string>((resolve) => (started = resolve));
        const pull = services.sync.runSync(ctx, conn.id, { objects: [object], push: false, trigger: SyncTrigger.MANUAL, onRunStarted: (id) => started(id) });
        const tracked: Promise<'done' | 'busy' | 'failed'> = pull.then(
          () => 'done' as const,
          (err: unknown) => {
            if (err instanceof AppError && err.subCode === 'SYNC_RUNNING') return 'busy' as const;
            req.log.error({ err }, 'import: the pull failed');
            return 'failed' as const;
          },
        );
        running.add(tracked);
        void tracked.finally(() => running.delete(tracked));

        if (req.query.wait === 'true' || req.query.wait === '1') {
          try {
            const runs = await pull;
            const run = runs.find((r) => r.object === object) ?? null;
            return reply.code(200).send({ file, duplicate: false, runId: run?.id ?? null, run });
          } catch (err) {
            if (err instanceof AppError) return sendError(reply, httpStatus(err.code), err.code, err.subCode, err.message);
            throw err;
          }
        }
        const first = await Promise.race([runId.then((id) => ({ id })), tracked.then((outcome) => ({ outcome }))]);
        if ('id' in first && first.id) return reply.code(202).send({ file, duplicate: false, runId: first.id, run: null });
        const message =
          'outcome' in first && first.outcome === 'busy'
            ? 'Stored; a sync of this connection is running, so the next pull imports it'
            : 'Stored; the pull could not start (see the hub log), so the next pull imports it';
        return reply.code(202).send({ file, duplicate: false, runId: null, run: null, message });
      },
    );
  });
}
