import Ajv from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Logger } from 'pino';
import { authenticateRequest, sendAppError, sendError } from '../auth/http-auth';
import { Role, Roles } from '../auth/role';
import type { RequestContext } from '../common/context';
import { AppError, type FieldError } from '../common/errors';
import { API_KEY, AUTH_ERRORS, COMMON_ERRORS, dateTime, decimal, errorResponse, nullable, nullableDateTime, object } from '../common/http-schemas';
import { MonetizationModel } from '../catalog/catalog.enums';
import { Deployment } from '../entitlements/entitlement.enums';
import { CheckCode } from './licensing.types';
import type { Services } from '../server/services';
import type { Activation } from './activation.entity';
import type { Lease } from './lease.entity';
import type { Seat } from './seat.entity';

/**
 * Licensing over plain HTTP (issue 15, ADR 0041; docs/licensing-http.md): the licensing
 * operations as JSON routes beside GraphQL, for clients and devices that call them in tight
 * loops. Same services, same codes, same idempotency keys, same keys and roles, same account
 * scope as the GraphQL operations; only the envelope differs: the answer is the operation's
 * result object itself, and an error is `{ errors: [{ message, extensions: { code, subCode,
 * … } }] }` with an HTTP status from its code.
 *
 *   POST /v1/check                      check           (any role)
 *   POST /v1/consume                    consume         (ADMIN, OPERATIONS, INTEGRATION)
 *   POST /v1/activations                activateDevice
 *   POST /v1/activations/deactivate     deactivateDevice
 *   POST /v1/seats                      assignSeat
 *   POST /v1/seats/release              releaseSeat
 *   POST /v1/leases                     checkoutLease
 *   POST /v1/leases/:id/heartbeat       heartbeatLease
 *   POST /v1/leases/:id/checkin         checkinLease
 */
export const LICENSING_ROUTES = new Set([
  '/v1/check',
  '/v1/consume',
  '/v1/activations',
  '/v1/activations/deactivate',
  '/v1/seats',
  '/v1/seats/release',
  '/v1/leases',
  '/v1/leases/:id/heartbeat',
  '/v1/leases/:id/checkin',
]);

/** A limit of the entitlement (devices, seats, leases) refuses this request, not the client's rate (429): 409. */
const STATUS_OVERRIDES = { LIMIT_EXCEEDED: 409, UPSTREAM_UNAVAILABLE: 503 };

const str = (max: number, min = 1) => ({ type: 'string', minLength: min, maxLength: max });
const uuid = { type: 'string', minLength: 1, maxLength: 100 };
const body = (properties: Record<string, unknown>, required: string[]): FastifySchema => ({
  body: { type: 'object', additionalProperties: false, required, properties },
});

const SCHEMAS = {
  check: body(
    { accountId: uuid, feature: str(100), quantity: { type: ['number', 'null'] }, deviceFingerprint: { type: ['string', 'null'], maxLength: 255 }, user: { type: ['string', 'null'], maxLength: 320 } },
    ['accountId', 'feature'],
  ),
  consume: body({ accountId: uuid, feature: str(100), quantity: { type: 'number' }, idempotencyKey: str(255) }, ['accountId', 'feature', 'quantity', 'idempotencyKey']),
  activate: body(
    {
      entitlementId: uuid,
      fingerprint: str(255),
      name: { type: ['string', 'null'], maxLength: 255 },
      platform: { type: ['string', 'null'], maxLength: 255 },
      deployment: { type: ['string', 'null'], enum: [...Object.values(Deployment), null] },
      serial: { type: ['string', 'null'], maxLength: 255 },
      shippedOn: { type: ['string', 'null'], pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    },
    ['entitlementId', 'fingerprint'],
  ),
  deactivate: body({ entitlementId: uuid, fingerprint: str(255) }, ['entitlementId', 'fingerprint']),
  seat: body({ entitlementId: uuid, email: str(320) }, ['entitlementId', 'email']),
  checkout: body({ entitlementId: uuid, holder: str(255), ttlSeconds: { type: 'integer' } }, ['entitlementId', 'holder']),
  heartbeat: { ...body({ ttlSeconds: { type: ['integer', 'null'] } }, []), params: { type: 'object', properties: { id: uuid } } } as FastifySchema,
  checkin: { params: { type: 'object', properties: { id: uuid } } } as FastifySchema,
};

// The answers (docs/openapi.md): what the GraphQL operations answer, as JSON.
const id = { type: 'string', format: 'uuid' };
const nullableId = { type: ['string', 'null'], format: 'uuid' };
const nullableText = { type: ['string', 'null'] };
const checkCode = { type: 'string', enum: Object.values(CheckCode) };
const CHECK_RESULT = object(
  {
    allowed: { type: 'boolean' },
    code: checkCode,
    reason: { type: 'string' },
    remaining: nullable(decimal),
    entitlementId: nullableId,
    model: { type: ['string', 'null'], enum: [...Object.values(MonetizationModel), null] },
    expiresAt: nullableDateTime,
  },
  { description: 'May the account use the feature now (the answer of the GraphQL check). A refusal is an answer (allowed false), not an error.' },
);
const CONSUME_RESULT = object(
  {
    allowed: { type: 'boolean' },
    code: checkCode,
    reason: { type: 'string' },
    feature: { type: 'string' },
    quantity: decimal,
    remaining: nullable(decimal),
    overage: decimal,
    consumed: nullable(decimal),
    entitlementId: nullableId,
    periodStart: nullableDateTime,
    periodEnd: nullableDateTime,
    replayed: { type: 'boolean', description: 'True when this is the stored answer to an earlier request with the same idempotency key.' },
  },
  { description: 'The answer of consume; a refusal is an answer too, stored under the key.' },
);
const ACTIVATION = object(
  {
    id,
    entitlementId: id,
    accountId: id,
    fingerprint: { type: 'string' },
    name: nullableText,
    platform: nullableText,
    deployment: { type: ['string', 'null'], enum: [...Object.values(Deployment), null] },
    serial: nullableText,
    shippedOn: { type: ['string', 'null'], format: 'date' },
    activatedAt: dateTime,
    lastSeenAt: dateTime,
    deactivatedAt: nullableDateTime,
    softwareVersion: nullableText,
    updatePolledAt: nullableDateTime,
    updateToken: { ...nullableText, description: 'The device\'s update token: only in the answer of an activation (the hub keeps a hash).' },
    createdAt: dateTime,
    active: { type: 'boolean' },
  },
  { optional: ['updateToken'], description: 'A device activation.' },
);
const SEAT = object(
  { id, entitlementId: id, accountId: id, email: { type: 'string' }, contactId: nullableId, assignedAt: dateTime, releasedAt: nullableDateTime, createdAt: dateTime, active: { type: 'boolean' } },
  { description: 'A named-user seat.' },
);
const LEASE = object(
  {
    id,
    entitlementId: id,
    accountId: id,
    holder: { type: 'string' },
    ttlSeconds: { type: 'integer' },
    checkedOutAt: dateTime,
    expiresAt: dateTime,
    checkedInAt: nullableDateTime,
    createdAt: dateTime,
    live: { type: 'boolean' },
  },
  { description: 'A concurrent-use (floating) lease.' },
);

/** What every licensing route may answer besides its 200. */
const ERRORS = {
  400: errorResponse('The body is not JSON or not a valid request (BAD_USER_INPUT with `fields`, or BAD_REQUEST), or the service refused the input (BAD_USER_INPUT).'),
  ...AUTH_ERRORS,
  404: errorResponse('The entitlement, account or lease was not found, or is outside the key\'s account (NOT_FOUND).'),
  409: errorResponse('A limit of the entitlement refuses it (LIMIT_EXCEEDED: devices, seats, leases) or the state conflicts (CONFLICT, e.g. an idempotency key reused with another body).'),
  415: errorResponse('The body is not application/json (UNSUPPORTED_MEDIA_TYPE).'),
  ...COMMON_ERRORS,
  503: errorResponse('A system the answer depends on is unavailable (UPSTREAM_UNAVAILABLE); retry.'),
};

/** The route's documentation: tags, summary, operationId (the GraphQL operation's name), key, answers. */
const doc = (operation: string, summary: string, answer: object): FastifySchema =>
  ({ tags: ['licensing'], summary, operationId: operation, security: API_KEY, response: { 200: { ...answer, description: summary }, ...ERRORS } }) as FastifySchema;

/** JSON Schema problems as the API's field errors: `body.quantity must be number`. */
function fieldErrors(err: { validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[] }): FieldError[] {
  return (err.validation ?? []).map((v) => {
    const missing = v.params?.missingProperty as string | undefined;
    const extra = v.params?.additionalProperty as string | undefined;
    const path = [v.instancePath?.replace(/^\//, '').replace(/\//g, '.'), missing ?? extra].filter(Boolean).join('.') || 'body';
    return { path, message: extra ? 'is not a known field' : (v.message ?? 'is invalid') };
  });
}

/**
 * The routes' own validator: strict like the GraphQL input types (no type coercion — `"5"` is not
 * a number —, unknown fields refused rather than dropped, every problem reported at once),
 * where Fastify's default would coerce and silently strip.
 */
const ajv = new Ajv({ allErrors: true, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });
const validatorCompiler = ({ schema }: { schema: object }) => ajv.compile(schema);

const SUMMARIES = {
  check: { summary: 'Check: may the account use a feature now (any role; never writes)', answer: CHECK_RESULT },
  consume: { summary: 'Consume a quantity of a metered feature (idempotent by idempotencyKey)', answer: CONSUME_RESULT },
  activateDevice: { summary: 'Activate a device on an entitlement (again: the same activation, a new update token)', answer: ACTIVATION },
  deactivateDevice: { summary: 'Deactivate a device, freeing its slot', answer: ACTIVATION },
  assignSeat: { summary: 'Assign a named-user seat', answer: SEAT },
  releaseSeat: { summary: 'Release a named-user seat', answer: SEAT },
  checkoutLease: { summary: 'Check out a floating (concurrent) lease; ttlSeconds defaults to 300', answer: LEASE },
  heartbeatLease: { summary: 'Extend a lease (heartbeat)', answer: LEASE },
  checkinLease: { summary: 'Check a lease back in', answer: LEASE },
} satisfies Record<string, { summary: string; answer: object }>;

type Handler<B, P> = (ctx: RequestContext, body: B, params: P) => Promise<unknown>;

/** The request schemas of the licensing routes (the bench's `check-floor` route reuses the check's). */
export const LICENSING_REQUEST_SCHEMAS = SCHEMAS;

/**
 * One licensing route: the key (401), the role (403), the body against `request` (400), then the
 * handler, its AppErrors as HTTP errors. Exported so the bench can measure this machinery with a
 * handler that does nothing (`check-floor`); the hub's own routes are all registered below.
 */
export function licensingRoute<B, P = Record<string, never>>(
  app: FastifyInstance,
  services: Services,
  path: string,
  operation: keyof typeof SUMMARIES,
  roles: readonly Role[],
  request: FastifySchema,
  handler: Handler<B, P>,
): void {
  const schema = { ...request, ...doc(operation, SUMMARIES[operation].summary, SUMMARIES[operation].answer) };
  app.post<{ Body: B; Params: P }>(path, { schema, attachValidation: true, validatorCompiler }, async (req: FastifyRequest<{ Body: B; Params: P }>, reply: FastifyReply) => {
    const principal = await authenticateRequest(services.apiKeys, req);
    if (principal instanceof AppError) return sendError(reply, 401, 'UNAUTHENTICATED', principal.subCode, principal.message, principal.details);
    if (principal.role !== Role.ADMIN && !roles.includes(principal.role)) {
      return sendError(reply, 403, 'FORBIDDEN', 'AUTH_ROLE_NOT_ALLOWED', `A ${principal.role} key may not call ${operation} (allowed: ${roles.join(', ')})`);
    }
    if (req.validationError) {
      const fields = fieldErrors(req.validationError as never);
      return sendError(reply, 400, 'BAD_USER_INPUT', 'REQUEST_INVALID', `The request body is not a valid ${operation} request: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`, { fields });
    }
    const ctx: RequestContext = {
      requestId: String(req.id),
      log: req.log as Logger,
      principal,
      operation,
      auditWrites: 0,
      deadline: Date.now() + services.config.EHUB_REQUEST_TIMEOUT_MS,
    };
    try {
      return reply.code(200).send(await handler(ctx, (req.body ?? {}) as B, req.params as P));
    } catch (err) {
      if (err instanceof AppError) return sendAppError(reply, err, STATUS_OVERRIDES);
      throw err;
    }
  });
}

export function registerLicensingRoutes(app: FastifyInstance, services: Services): void {
  const { licensing } = services;
  const route = <B, P = Record<string, never>>(path: string, operation: keyof typeof SUMMARIES, roles: readonly Role[], request: FastifySchema, handler: Handler<B, P>) =>
    licensingRoute<B, P>(app, services, path, operation, roles, request, handler);

  type CheckBody = { accountId: string; feature: string; quantity?: number | null; deviceFingerprint?: string | null; user?: string | null };
  route<CheckBody>('/v1/check', 'check', Roles.ANY, SCHEMAS.check, (ctx, b) =>
    licensing.checks.check(ctx, { accountId: b.accountId, feature: b.feature, quantity: b.quantity ?? null, deviceFingerprint: b.deviceFingerprint ?? null, user: b.user ?? null }),
  );
  type ConsumeBody = { accountId: string; feature: string; quantity: number; idempotencyKey: string };
  route<ConsumeBody>('/v1/consume', 'consume', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.consume, (ctx, b) => licensing.consumption.consume(ctx, b));

  type ActivateBody = { entitlementId: string; fingerprint: string; name?: string | null; platform?: string | null; deployment?: Deployment | null; serial?: string | null; shippedOn?: string | null };
  route<ActivateBody>('/v1/activations', 'activateDevice', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.activate, async (ctx, b) =>
    activationJson(
      await licensing.devices.activate(ctx, {
        entitlementId: b.entitlementId,
        fingerprint: b.fingerprint,
        name: b.name ?? null,
        platform: b.platform ?? null,
        deployment: b.deployment ?? null,
        serial: b.serial ?? null,
        shippedOn: b.shippedOn ?? null,
      }),
    ),
  );
  type DeviceBody = { entitlementId: string; fingerprint: string };
  route<DeviceBody>('/v1/activations/deactivate', 'deactivateDevice', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.deactivate, async (ctx, b) =>
    activationJson(await licensing.devices.deactivate(ctx, b.entitlementId, b.fingerprint)),
  );

  type SeatBody = { entitlementId: string; email: string };
  route<SeatBody>('/v1/seats', 'assignSeat', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.seat, async (ctx, b) => seatJson(await licensing.seats.assign(ctx, b.entitlementId, b.email)));
  route<SeatBody>('/v1/seats/release', 'releaseSeat', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.seat, async (ctx, b) => seatJson(await licensing.seats.release(ctx, b.entitlementId, b.email)));

  type CheckoutBody = { entitlementId: string; holder: string; ttlSeconds?: number };
  route<CheckoutBody>('/v1/leases', 'checkoutLease', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.checkout, async (ctx, b) =>
    leaseJson(await licensing.leases.checkout(ctx, b.entitlementId, b.holder, b.ttlSeconds ?? 300)),
  );
  route<{ ttlSeconds?: number | null }, { id: string }>('/v1/leases/:id/heartbeat', 'heartbeatLease', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.heartbeat, async (ctx, b, p) =>
    leaseJson(await licensing.leases.heartbeat(ctx, p.id, b.ttlSeconds ?? null)),
  );
  route<Record<string, never>, { id: string }>('/v1/leases/:id/checkin', 'checkinLease', Roles.OPERATE_OR_INTEGRATE, SCHEMAS.checkin, async (ctx, _b, p) =>
    leaseJson(await licensing.leases.checkin(ctx, p.id)),
  );
}

// The entities' computed fields (getters) are part of the GraphQL answer: add them.
const activationJson = (a: Activation) => ({ ...a, active: a.active });
const seatJson = (s: Seat) => ({ ...s, active: s.active });
const leaseJson = (l: Lease) => ({ ...l, live: l.live });
