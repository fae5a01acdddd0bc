import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import { GraphQLError, visit, BREAK, type DocumentNode, type GraphQLSchema } from 'graphql';
import { securityHeaders } from './security-headers';
import cors from '@fastify/cors';
import depthLimit from 'graphql-depth-limit';
import type { Logger } from 'pino';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { tracer } from '../telemetry/tracing';
import { AppError } from '../common/errors';
import type { RequestContext } from '../common/context';
import { pendingMigrations } from '../db/data-source';
import { serveJwks } from '../certificates/jwks.route';
import { registerUsageRoutes } from '../usage/usage.routes';
import { registerRevenueRoutes } from '../revenue/revenue.routes';
import { registerImportRoutes } from '../sync/sync-import.routes';
import { registerDeliveryRoutes } from '../delivery/delivery.routes';
import { registerLicensingRoutes } from '../licensing/licensing.routes';
import { registerDeviceUpdateRoutes } from '../delivery/device-updates.routes';
import { formatError, isUnexpected } from './errors';
import { GRAPHIQL_PAGE, registerGraphiQL } from './graphiql';
import { registerConsole } from './console';
import { createGraphQLContext, type GraphQLContext } from './graphql-context';
import { Metrics } from './metrics';
import { aliasLimitRule, fieldDuplicationRule, limitsPlugin } from './limits';
import { registerRateLimits, requestPrincipal } from './rate-limit';
import { registerOpenApi, serveOpenApi } from './openapi';
import { COMMON_ERRORS, PUBLIC, errorResponse, object } from '../common/http-schemas';
import type { Services } from './services';

export interface AppOptions {
  services: Services;
  schema: GraphQLSchema;
  log: Logger;
  metrics?: Metrics;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** True when the operation asks for the schema (`__schema` or `__type`; `__typename` is harmless). */
function isIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/**
 * Same-origin scripts, styles and data: fonts and images only: what GraphiQL (served from
 * local assets, no inline code) needs. No upgrade-insecure-requests: a hub reached over plain
 * HTTP on a LAN address would otherwise have its own assets rewritten to https.
 */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  scriptSrcAttr: ["'none'"],
  upgradeInsecureRequests: null,
};

/**
 * Builds the HTTP server: GraphQL (POST /graphql, GraphiQL on GET), health, readiness and
 * metrics. It knows nothing of start-up or the database's lifecycle (see hub.ts).
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { services, schema, log } = opts;
  const { config } = services;
  // Stack traces and internal messages reach clients only when asked for explicitly.
  const dev = config.debug;
  const metrics = opts.metrics ?? new Metrics(services.db.ds, services.db.readDs ? services.db.replica : undefined);
  // The usage stream's counters (ADR 0049), when EHUB_USAGE_STREAM is set (a second app on the same services reuses them).
  // And the MQTT update notices' (ADR 0066), when EHUB_MQTT_URL is set.
  for (const m of [...(services.usage.stream?.metrics.all() ?? []), ...(services.updateNotices.enabled ? services.updateNotices.metrics.all() : [])]) {
    try {
      metrics.registry.registerMetric(m);
    } catch {
      // already registered in this registry
    }
  }

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: config.EHUB_BODY_LIMIT_BYTES,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  // Helmet's headers, computed once (ADR 0054), with the request id, on every response.
  const security = securityHeaders({ contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES } });
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(security);
    reply.header('x-request-id', req.id);
    // With OpenTelemetry on (ADR 0044) the HTTP server span gets its route and request id.
    const span = trace.getActiveSpan();
    if (span?.isRecording()) {
      const route = req.routeOptions.url;
      if (route) {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('ehub.request_id', req.id);
    }
    done();
  });
  // CORS: off (no Access-Control-* headers: browsers keep other origins out) unless origins are configured.
  if (config.EHUB_CORS_ORIGINS.length > 0) {
    await app.register(cors, {
      origin: config.EHUB_CORS_ORIGINS.includes('*') ? '*' : config.EHUB_CORS_ORIGINS,
      methods: ['GET', 'POST', 'PUT', 'OPTIONS'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'apollo-require-preflight'],
      exposedHeaders: ['x-request-id'],
      maxAge: 600,
    });
  }
  // Without a promise, and the debug line built only when it is written: this runs for every request.
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: req.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if ((req.log as Logger).isLevelEnabled('debug')) req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    done();
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const code =
      status === 413
        ? 'PAYLOAD_TOO_LARGE'
        : status === 415
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : status === 429
            ? 'LIMIT_EXCEEDED'
            : status < 500
              ? 'BAD_REQUEST'
              : 'INTERNAL';
    return reply.code(status).send({
      errors: [
        status < 500
          ? { message: err.message, extensions: { code, subCode: err.code ?? code } }
          : { message: 'Internal error; it was logged with the request id', extensions: { code, subCode: code, requestId: req.id } },
      ],
    });
  });

  // Before any route: the plugins hook every route added after them.
  await registerOpenApi(app);
  await registerRateLimits(app, services, config, metrics);

  const loggingPlugin: ApolloServerPlugin<GraphQLContext> = {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      // One span per GraphQL operation (ADR 0044): type and name only, never the document or variables.
      const span = trace.getActiveSpan()?.isRecording() ? tracer.startSpan('graphql.operation') : null;
      return {
        async didResolveOperation({ document, operation }) {
          // The schema is public as schema.graphql; the live one is for key holders (and development).
          if (!dev && !contextValue.principal && isIntrospection(document)) {
            throw new AppError(
              'UNAUTHENTICATED',
              'INTROSPECTION_NEEDS_KEY',
              'Introspection needs an API key: send Authorization: Bearer <key> (in GraphiQL: the Headers tab). The first start wrote an admin key to EHUB_DATA_DIR/admin.key (./.ehub/admin.key by default); the published contract is schema.graphql',
            );
          }
          contextValue.operation = operation?.name?.value ?? contextValue.operation;
          if (span && operation) {
            span.updateName(`graphql.${operation.operation} ${operation.name?.value ?? 'anonymous'}`);
            span.setAttributes({ 'graphql.operation.type': operation.operation, 'graphql.operation.name': operation.name?.value ?? 'anonymous' });
          }
        },
        async didEncounterErrors({ errors }) {
          for (const e of errors) {
            const code = (e.extensions?.code as string) ?? 'INTERNAL';
            metrics.graphqlErrors.inc({ code: isUnexpected(e) ? 'INTERNAL' : code });
            if (isUnexpected(e)) contextValue.log.error({ err: e.originalError ?? e, path: e.path }, 'unexpected error');
          }
        },
        async willSendResponse({ operation, operationName, response }) {
          // An internal error's details stay in the log; the client gets the request id to quote.
          if (response.body.kind === 'single' && response.body.singleResult.errors) {
            response.body.singleResult.errors = response.body.singleResult.errors.map((e) =>
              e.extensions?.code === 'INTERNAL' ? { ...e, extensions: { ...e.extensions, requestId: contextValue.requestId } } : e,
            );
          }
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          if (span) {
            const errors = response.body.kind === 'single' ? (response.body.singleResult.errors?.length ?? 0) : 0;
            span.setAttribute('graphql.errors', errors);
            if (errors > 0) span.setStatus({ code: SpanStatusCode.ERROR, message: String(response.body.kind === 'single' ? (response.body.singleResult.errors?.[0]?.extensions?.code ?? 'ERROR') : 'ERROR') });
            span.end();
          }
          metrics.graphqlDuration.observe({ operation: operationName ?? 'anonymous', type: operation?.operation ?? 'unknown' }, seconds);
        },
      };
    },
  };

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: true,
    // The hub owns shutdown (drain HTTP, stop jobs, close the pool), not Apollo.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: dev,
    validationRules: [depthLimit(config.EHUB_MAX_QUERY_DEPTH), aliasLimitRule(config.EHUB_MAX_ALIASES), fieldDuplicationRule(config.EHUB_MAX_FIELD_DUPLICATES)],
    formatError: (formatted, error) => formatError(formatted, error, dev),
    plugins: [limitsPlugin(schema, config), loggingPlugin],
    logger: log,
  });
  await apollo.start();

  // Aborted as the server starts to close (before it waits for the requests in flight): a
  // request running long work (runSync) sees it and ends, so the shutdown is not held.
  const stopping = new AbortController();
  app.addHook('preClose', (done) => {
    stopping.abort();
    done();
  });
  // A response finished while the server closes ends its connection: the client's keep-alive
  // socket would otherwise hold close() for keepAliveTimeout (72 s), past EHUB_SHUTDOWN_TIMEOUT_MS.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (stopping.signal.aborted) reply.header('connection', 'close');
    done(null, payload);
  });
  const context = async (req: FastifyRequest): Promise<GraphQLContext> => {
    const base: RequestContext = {
      requestId: String(req.id),
      log: req.log as Logger,
      principal: null,
      operation: 'graphql',
      auditWrites: 0,
      deadline: Date.now() + config.EHUB_REQUEST_TIMEOUT_MS,
      stopping: stopping.signal,
    };
    const header = req.headers.authorization;
    if (header) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      try {
        if (!m) throw new AppError('UNAUTHENTICATED', 'AUTH_HEADER_MALFORMED', 'Use Authorization: Bearer <key>');
        // The rate limiter already authenticated the key (a failure there is retried here for its error).
        base.principal = (await requestPrincipal(services, req)) ?? (await services.apiKeys.authenticate(m[1]!));
      } catch (err) {
        if (err instanceof AppError) {
          throw new GraphQLError(err.message, { extensions: { ...err.extensions, http: { status: 401 } } });
        }
        throw err;
      }
    }
    return createGraphQLContext(base, services);
  };
  const handler = fastifyApolloHandler(apollo, { context });

  app.post('/graphql', handler);
  app.get<{ Querystring: { query?: string }; Reply: string }>('/graphql', async function (req, reply) {
    if (req.query.query) return handler.call(this, req, reply);
    void reply.header('content-type', 'text/html; charset=utf-8');
    return GRAPHIQL_PAGE;
  });
  registerGraphiQL(app);
  registerConsole(app, config.EHUB_CONSOLE_DIR);

  const status = (value: string) => ({ type: 'string', const: value });
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness probe', operationId: 'healthz', security: PUBLIC, response: { 200: { description: 'The process is up.', ...object({ status: status('ok') }) } } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['operations'],
        summary: 'Public keys that verify certificates and artifact signatures',
        description: 'The current key first. Public; cache for five minutes, and fetch again on an unknown `kid`.',
        operationId: 'jwks',
        security: PUBLIC,
        response: {
          200: {
            description: 'A JSON Web Key Set (RFC 7517) of Ed25519 public keys.',
            ...object({
              keys: {
                type: 'array',
                items: { type: 'object', required: ['kty', 'kid'], additionalProperties: true, properties: { kty: { type: 'string' }, crv: { type: 'string' }, x: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string' }, use: { type: 'string' } } },
              },
            }),
          },
          ...COMMON_ERRORS,
        },
      },
    },
    (req, reply) => serveJwks(services.certificates, req, reply),
  );
  registerUsageRoutes(app, services);
  registerRevenueRoutes(app, services, metrics);
  registerImportRoutes(app, services);
  registerDeliveryRoutes(app, services);
  registerLicensingRoutes(app, services);
  registerDeviceUpdateRoutes(app, services);
  serveOpenApi(app);
  const notReady = { description: 'Not ready: the database is unreachable or migrations are pending.', ...object({ status: status('not ready'), reason: { type: 'string' } }) };
  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'Readiness probe: the database answers and no migration is pending', operationId: 'readyz', security: PUBLIC, response: { 200: { description: 'Ready.', ...object({ status: status('ready') }) }, 503: notReady } } },
    async (req, reply) => {
      try {
        await services.db.ds.query('SELECT 1');
        if (await pendingMigrations(services.db.ds)) {
          return reply.code(503).send({ status: 'not ready', reason: 'database migrations are pending (run ehub migrate)' });
        }
        return { status: 'ready' };
      } catch (err) {
        req.log.warn({ err }, 'readiness check failed');
        return reply.code(503).send({ status: 'not ready', reason: 'database unreachable' });
      }
    },
  );
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        operationId: 'metrics',
        security: PUBLIC,
        response: {
          200: { description: 'The Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
          500: errorResponse('The metrics could not be collected (INTERNAL).'),
        },
      },
    },
    async (_req, reply) => {
      return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
    },
  );

  // Fastify's close() stops accepting and waits for in-flight requests; then Apollo stops.
  app.addHook('onClose', async () => {
    await apollo.stop();
    // Metrics this app built are its own to stop (given ones belong to the caller).
    if (!opts.metrics) metrics.close();
  });
  return app;
}
