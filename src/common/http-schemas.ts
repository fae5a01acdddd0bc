/**
 * Building blocks of the plain-HTTP routes' schemas (docs/openapi.md, ADR 0046). Every
 * non-GraphQL route carries a Fastify `schema` (request parts, a response per status, tags,
 * summary, operationId); @fastify/swagger collects them into the OpenAPI 3.1 document served
 * at /openapi.json and committed as openapi.json.
 *
 * Response schemas describe, they do not serialize: the app's serializer compiler is plain
 * JSON.stringify (src/server/openapi.ts), so no field is ever dropped by a schema, and
 * test/openapi checks real answers against them instead.
 */

/** The id of the shared error body schema (`$ref: 'ErrorResponse#'`), registered with app.addSchema. */
export const ERROR_SCHEMA_ID = 'ErrorResponse';

/**
 * The error body of every plain-HTTP route and of the server's own refusals (bad JSON, 413,
 * 415, 429, 500): the same shape as a GraphQL error — see sendError in src/auth/http-auth.ts.
 */
export const ERROR_SCHEMA = {
  $id: ERROR_SCHEMA_ID,
  title: ERROR_SCHEMA_ID,
  description: 'An error: the same shape as a GraphQL error. `extensions.code` is generic, `extensions.subCode` names the case; other extensions are details.',
  type: 'object',
  additionalProperties: false,
  required: ['errors'],
  properties: {
    errors: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['message', 'extensions'],
        properties: {
          message: { type: 'string', description: 'For people.' },
          extensions: {
            type: 'object',
            required: ['code', 'subCode'],
            additionalProperties: true,
            properties: {
              code: { type: 'string', description: 'BAD_USER_INPUT, BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, GONE, LIMIT_EXCEEDED, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, RANGE_NOT_SATISFIABLE, UPSTREAM_UNAVAILABLE or INTERNAL.' },
              subCode: { type: 'string', description: 'The case, e.g. AUTH_KEY_MISSING, REQUEST_INVALID, DOWNLOAD_LINK_EXPIRED.' },
              fields: {
                type: 'array',
                description: 'The offending fields of an invalid request.',
                items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } },
              },
              requestId: { type: 'string', description: 'On INTERNAL errors: quote it; the details are in the hub log.' },
            },
          },
        },
      },
    },
  },
} as const;

/** A response with the error body. */
export const errorResponse = (description: string) => ({ description, $ref: `${ERROR_SCHEMA_ID}#` });

/** The refusals every keyed route may answer with, beside its own. */
export const AUTH_ERRORS = {
  401: errorResponse('No API key, a malformed Authorization header, or a key that is unknown, revoked or expired (UNAUTHENTICATED).'),
  403: errorResponse('The key\'s role (or account scope) may not call this route (FORBIDDEN).'),
};
/** Every route but the probes is rate-limited; every route may fail unexpectedly. */
export const COMMON_ERRORS = {
  429: errorResponse('Rate limit exceeded (LIMIT_EXCEEDED, subCode RATE_LIMITED); the Retry-After header says when to retry.'),
  500: errorResponse('An unexpected error (INTERNAL); the answer carries the request id, the details are in the hub log.'),
};

/** Security requirements (the schemes are in src/server/openapi.ts). */
export const API_KEY: Record<string, string[]>[] = [{ apiKey: [] }];
export const DEVICE_OR_API_KEY: Record<string, string[]>[] = [{ deviceToken: [] }, { apiKey: [] }];
export const PUBLIC: [] = [];

export const str = (max: number, min = 1) => ({ type: 'string', minLength: min, maxLength: max });
export const nullable = (schema: Record<string, unknown>) => ({ ...schema, type: [schema.type as string, 'null'] });
export const dateTime = { type: 'string', format: 'date-time' } as const;
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
/** A decimal number as a string (quantities and balances keep their precision). */
export const decimal = { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$' } as const;

/** An object whose listed properties are all present (values may be null where the schema says). */
export const object = (properties: Record<string, unknown>, opts: { optional?: string[]; description?: string } = {}) => ({
  type: 'object',
  ...(opts.description ? { description: opts.description } : {}),
  additionalProperties: false,
  required: Object.keys(properties).filter((k) => !(opts.optional ?? []).includes(k)),
  properties,
});

/**
 * For the routes that validate their input by hand (with their own codes and statuses, which
 * clients and tests rely on): the request schemas document the input but are not enforced by
 * Fastify. Pass as the route's `validatorCompiler`.
 */
export const documentedOnly = () => () => true;
