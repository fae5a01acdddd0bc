import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Roles } from '../auth/role';
import { authenticateRequest, sendAppError, sendError } from '../auth/http-auth';
import { AppError } from '../common/errors';
import { API_KEY, AUTH_ERRORS, COMMON_ERRORS, dateTime, documentedOnly, errorResponse, object, PUBLIC } from '../common/http-schemas';
import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import { parseRange } from './links';
import type { ServingStore } from './storage/store';

/** Here a limit is the artifact size limit: 413. */
const STATUS_OVERRIDES = { LIMIT_EXCEEDED: 413 };
const OCTETS = 'application/octet-stream';

export const ARTIFACT = object(
  {
    id: { type: 'string', format: 'uuid' },
    releaseId: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    platform: { type: ['string', 'null'] },
    arch: { type: ['string', 'null'] },
    size: { type: 'integer', minimum: 0 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    sha512: { type: 'string', pattern: '^[0-9a-f]{128}$' },
    signature: { type: 'string', description: 'Ed25519 signature of the artifact (verify with the JWKS key `kid`).' },
    kid: { type: 'string' },
    createdAt: dateTime,
  },
  { description: 'A file of a release, stored and signed.' },
);

// The routes' documentation (docs/openapi.md); both check their input by hand, with their own codes.
const UPLOAD_SCHEMA = {
  tags: ['delivery'],
  summary: 'Upload an artifact of a release (streamed, hashed and signed)',
  description: 'ADMIN, OPERATIONS and INTEGRATION keys, not account-scoped. The same name again replaces nothing: it is refused (CONFLICT).',
  operationId: 'uploadArtifact',
  security: API_KEY,
  params: object({ id: { type: 'string', description: 'The release id.' }, name: { type: 'string', description: 'The file name (no path).' } }),
  querystring: { type: 'object', properties: { platform: { type: 'string' }, arch: { type: 'string' } } },
  body: { content: { [OCTETS]: { schema: { type: 'string', contentMediaType: OCTETS, description: 'The file\'s bytes.' } } } },
  response: {
    201: { ...object({ artifact: ARTIFACT }), description: 'Stored and signed.' },
    400: errorResponse('An invalid name or release state (BAD_USER_INPUT), or the body ended early (ARTIFACT_BODY_INCOMPLETE).'),
    ...AUTH_ERRORS,
    404: errorResponse('No such release (NOT_FOUND).'),
    409: errorResponse('The release already has an artifact of that name, or is not in a state that takes uploads (CONFLICT).'),
    413: errorResponse('Over EHUB_ARTIFACT_MAX_BYTES (PAYLOAD_TOO_LARGE, ARTIFACT_TOO_LARGE, with `limit`); nothing kept.'),
    415: errorResponse(`The body is not ${OCTETS} (ARTIFACT_OCTET_STREAM_REQUIRED).`),
    ...COMMON_ERRORS,
  },
};

const bytes = (description: string) => ({
  description,
  headers: {
    'accept-ranges': { type: 'string', const: 'bytes' },
    etag: { type: 'string', description: 'The artifact\'s SHA-256, quoted.' },
    'content-range': { type: 'string', description: 'On 206: bytes <start>-<end>/<size>.' },
    'content-disposition': { type: 'string' },
  },
  content: { [OCTETS]: { schema: { type: 'string', contentMediaType: OCTETS } } },
});
const DOWNLOAD_SCHEMA = {
  tags: ['delivery'],
  summary: 'Download an artifact with a signed link (filesystem store)',
  description: 'A link made by createDownloadLink: no API key, the HMAC signature is the credential. Single byte ranges (Range: bytes=a-b). HEAD answers the headers only. Each completed download is logged.',
  operationId: 'downloadArtifact',
  security: PUBLIC,
  params: object({ link: { type: 'string' }, artifact: { type: 'string' }, name: { type: 'string' } }),
  querystring: { type: 'object', required: ['expires', 'signature'], properties: { expires: { type: 'string', pattern: '^\\d+$', description: 'Unix seconds.' }, signature: { type: 'string' } } },
  headers: { type: 'object', properties: { range: { type: 'string', description: 'One range: bytes=<start>-[<end>] or bytes=-<suffix>.' } } },
  response: {
    200: bytes('The whole file.'),
    206: bytes('The requested range.'),
    400: errorResponse('expires or signature missing (DOWNLOAD_LINK_MALFORMED).'),
    403: errorResponse('The link was altered (DOWNLOAD_LINK_INVALID) or made for another artifact (DOWNLOAD_LINK_OTHER_ARTIFACT).'),
    404: errorResponse('The link is not in the download log, the name does not match, or the file is missing (NOT_FOUND).'),
    409: errorResponse('The artifact is not in the hub\'s filesystem store (DOWNLOAD_STORE_MISMATCH).'),
    410: errorResponse('The link expired (DOWNLOAD_LINK_EXPIRED) or the release was yanked (RELEASE_YANKED).'),
    416: errorResponse('The range is outside the file (DOWNLOAD_RANGE_INVALID, with `size`).'),
    ...COMMON_ERRORS,
  },
};


/**
 * PUT /v1/releases/:id/artifacts/:name — an artifact's bytes (application/octet-stream),
 * streamed into the artifact store while hashed, then signed (docs/delivery.md). Query
 * `platform`, `arch`. 201 with the artifact. API key (ADMIN, OPERATIONS, INTEGRATION; not
 * account-scoped).
 *
 * GET /v1/downloads/:link/:artifact/:name?expires&signature — a download link made by
 * createDownloadLink for the filesystem store: no API key; the HMAC signature is the
 * credential. Single byte ranges (206, 416). Each completed response is logged.
 */
export function registerDeliveryRoutes(app: FastifyInstance, services: Services): void {
  const max = services.config.EHUB_ARTIFACT_MAX_BYTES;

  void app.register(async (scope) => {
    // Only in this scope: octet-stream bodies reach the handler as the raw stream, unread.
    scope.addContentTypeParser(OCTETS, { bodyLimit: max }, (_req, payload, done) => done(null, payload));

    scope.put<{ Params: { id: string; name: string }; Querystring: { platform?: string; arch?: string } }>(
      '/v1/releases/:id/artifacts/:name',
      { bodyLimit: max, schema: UPLOAD_SCHEMA, validatorCompiler: documentedOnly },
      async (req, reply) => {
        const principal = await authenticateRequest(services.apiKeys, req);
        if (principal instanceof AppError) return sendError(reply, 401, 'UNAUTHENTICATED', principal.subCode, principal.message, principal.details);
        if (!(Roles.OPERATE_OR_INTEGRATE as readonly string[]).includes(principal.role)) {
          return sendError(reply, 403, 'FORBIDDEN', 'AUTH_ROLE_NOT_ALLOWED', `A ${principal.role} key may not upload artifacts (allowed: ${Roles.OPERATE_OR_INTEGRATE.join(', ')})`);
        }
        const body = req.body as Readable | undefined;
        if (!body || typeof body.on !== 'function') {
          return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'ARTIFACT_OCTET_STREAM_REQUIRED', `Send the file as the body with content-type: ${OCTETS}`);
        }
        const length = Number(req.headers['content-length']);
        if (Number.isFinite(length) && length > max) {
          void reply.header('connection', 'close');
          return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', 'ARTIFACT_TOO_LARGE', `The body is ${length} bytes, over the limit of ${max} (EHUB_ARTIFACT_MAX_BYTES); nothing was kept`, { limit: max });
        }
        const ctx: RequestContext = { requestId: String(req.id), log: req.log as Logger, principal, operation: 'PUT /v1/releases/:id/artifacts/:name', auditWrites: 0 };
        try {
          const artifact = await services.delivery.uploadArtifact(ctx, req.params.id, req.params.name, body, { platform: req.query.platform, arch: req.query.arch });
          return reply.code(201).send({ artifact });
        } catch (err) {
          if (err instanceof AppError) {
            // Refused before the body was read: do not wait for the rest of it.
            if (!body.readableEnded) void reply.header('connection', 'close');
            if (err.subCode === 'ARTIFACT_TOO_LARGE') return sendError(reply, 413, 'PAYLOAD_TOO_LARGE', err.subCode, err.message, { limit: max });
            return sendAppError(reply, err, STATUS_OVERRIDES);
          }
          if (body.destroyed || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
            req.log.info({ err: (err as Error).message }, 'artifact body ended early; nothing kept');
            return sendError(reply, 400, 'BAD_REQUEST', 'ARTIFACT_BODY_INCOMPLETE', 'The request body ended early; nothing was kept');
          }
          throw err;
        }
      },
    );
  });

  app.get<{ Params: { link: string; artifact: string; name: string }; Querystring: { expires?: string; signature?: string } }>(
    '/v1/downloads/:link/:artifact/:name',
    { schema: DOWNLOAD_SCHEMA, validatorCompiler: documentedOnly },
    async (req, reply) => {
      const { link: linkId, artifact: artifactId } = req.params;
      const delivery = services.delivery;
      const expires = Number(req.query.expires);
      const signature = req.query.signature;
      if (!signature || !Number.isSafeInteger(expires)) {
        return sendError(reply, 400, 'BAD_USER_INPUT', 'DOWNLOAD_LINK_MALFORMED', 'Not a download link: expires and signature are missing (ask createDownloadLink for one)');
      }
      const link = { linkId, artifactId, expires };
      if (!(await delivery.links.matches(link, signature))) {
        // Distinguish a link taken to another artifact (same link id and signature) from any other change.
        const record = await delivery.linkRecord(linkId);
        if (record && record.artifactId !== artifactId && (await delivery.links.matches({ ...link, artifactId: record.artifactId }, signature))) {
          return sendError(reply, 403, 'FORBIDDEN', 'DOWNLOAD_LINK_OTHER_ARTIFACT', `This link was made for artifact ${record.artifactId}, not ${artifactId}; ask for a link to the artifact you want`);
        }
        return sendError(reply, 403, 'FORBIDDEN', 'DOWNLOAD_LINK_INVALID', 'The download link was altered (its signature does not match); ask createDownloadLink for a new one');
      }
      if (Date.now() >= expires * 1000) {
        return sendError(reply, 410, 'GONE', 'DOWNLOAD_LINK_EXPIRED', `The download link expired at ${new Date(expires * 1000).toISOString()}; ask createDownloadLink for a new one`);
      }
      const record = await delivery.linkRecord(linkId);
      const artifact = await delivery.artifactRow(artifactId);
      if (!record || !artifact || record.artifactId !== artifactId) {
        return sendError(reply, 404, 'NOT_FOUND', 'DOWNLOAD_LINK_UNKNOWN', 'This link is not in the download log (or its artifact was removed); ask for a new one');
      }
      if (decodeURIComponent(req.params.name) !== artifact.name) {
        return sendError(reply, 404, 'NOT_FOUND', 'DOWNLOAD_NAME_MISMATCH', `This link is for ${artifact.name}`);
      }
      const release = await delivery.releaseStatus(artifact.release_id);
      if (release?.status === 'YANKED') return sendError(reply, 410, 'GONE', 'RELEASE_YANKED', `Release ${release.version} was yanked after this link was made`);
      const store = delivery.store;
      if (store.kind !== 'fs' || artifact.store !== 'fs') {
        return sendError(reply, 409, 'CONFLICT', 'DOWNLOAD_STORE_MISMATCH', 'This artifact is not in the hub\'s filesystem store; ask for a new link');
      }
      const size = await (store as ServingStore).size(artifact.storage_key);
      if (size === null) return sendError(reply, 404, 'NOT_FOUND', 'ARTIFACT_BYTES_MISSING', 'The artifact\'s file is missing from the store');

      const range = parseRange(req.headers.range, size);
      void reply.header('accept-ranges', 'bytes');
      void reply.header('etag', `"${artifact.sha256}"`);
      void reply.header('cache-control', 'private, no-store');
      if (range.kind === 'unsatisfiable') {
        void reply.header('content-range', `bytes */${size}`);
        return sendError(reply, 416, 'RANGE_NOT_SATISFIABLE', 'DOWNLOAD_RANGE_INVALID', `The requested range (${req.headers.range}) is outside the file's ${size} bytes`, { size });
      }
      void reply.header('content-disposition', `attachment; filename="${artifact.name}"`);
      void reply.header('content-type', OCTETS);
      const start = range.kind === 'partial' ? range.start : 0;
      const end = range.kind === 'partial' ? range.end : size - 1;
      if (range.kind === 'partial') {
        void reply.code(206);
        void reply.header('content-range', `bytes ${start}-${end}/${size}`);
      }
      void reply.header('content-length', String(Math.max(0, end - start + 1)));
      // HEAD (which Fastify routes here too): the headers only, and nothing downloaded to log.
      if (req.method === 'HEAD') {
        reply.hijack();
        reply.raw.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string>);
        reply.raw.end();
        return reply;
      }
      // Logged once the whole response was handed over; an aborted transfer logs nothing.
      reply.raw.once('finish', () => {
        delivery.logDownload(record, { start, end }, req.ip ?? null).catch((err: unknown) => req.log.error({ err }, 'could not log a download'));
      });
      if (size === 0) return reply.send('');
      return reply.send((store as ServingStore).read(artifact.storage_key, start, end));
    },
  );
}
