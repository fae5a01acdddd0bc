import rateLimit from '@fastify/rate-limit';
import { authenticateRequest } from '../auth/http-auth';
import { AppError } from '../common/errors';
import { LICENSING_ROUTES } from '../licensing/licensing.routes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Kind, parse } from 'graphql';
import type { Principal } from '../common/context';
import type { Config } from '../config';
import type { Metrics } from './metrics';
import type { Services } from './services';

/** The licensing hot path: operations made only of these root fields draw on their own, larger bucket. */
export const LICENSING_OPERATIONS: ReadonlySet<string> = new Set([
  'check',
  'consume',
  'activateDevice',
  'deactivateDevice',
  'assignSeat',
  'releaseSeat',
  'checkoutLease',
  'heartbeatLease',
  'checkinLease',
  'issueCertificate',
]);

/** Probes and scrapes are never throttled. */
const EXEMPT_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per key, as an @fastify/rate-limit store: a bucket holds `max` tokens and
 * refills at `max` per `timeWindow`, so a client may burst up to `max` and then goes on at
 * the refill rate (rather than a fixed window, which lets 2 × max through at a window edge).
 * The plugin compares `current` with `max` and turns `ttl` into Retry-After: a refused
 * request gets `current = max + 1` and the time until one token is back.
 */
export class TokenBucketStore {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly capacity = 100_000) {}

  incr(key: string, cb: (err: Error | null, res: { current: number; ttl: number }) => void, timeWindow: number, max: number): void {
    const now = Date.now();
    const perMs = max / timeWindow;
    const b = this.buckets.get(key) ?? { tokens: max, at: now };
    b.tokens = Math.min(max, b.tokens + (now - b.at) * perMs);
    b.at = now;
    this.buckets.delete(key); // re-inserted last: Map order doubles as least-recently-used order
    this.buckets.set(key, b);
    if (this.buckets.size > this.capacity) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      cb(null, { current: max - Math.floor(b.tokens), ttl: Math.ceil((max - b.tokens) / perMs) });
    } else {
      cb(null, { current: max + 1, ttl: Math.max(1, Math.ceil((1 - b.tokens) / perMs)) });
    }
  }

  child(): TokenBucketStore {
    return new TokenBucketStore(this.capacity);
  }
}

/** Root fields of the operation a request carries (cached by query text: clients repeat theirs). */
const rootFieldCache = new Map<string, string[] | null>();
function rootFields(query: string, operationName: string | undefined): string[] | null {
  const cacheKey = `${operationName ?? ''}\n${query}`;
  if (rootFieldCache.has(cacheKey)) return rootFieldCache.get(cacheKey)!;
  let fields: string[] | null = null;
  try {
    const ops = parse(query).definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
    if (op) fields = op.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '…'));
  } catch {
    fields = null; // Apollo reports the parse error; the request draws on the general bucket.
  }
  if (rootFieldCache.size >= 1000) rootFieldCache.clear();
  rootFieldCache.set(cacheKey, fields);
  return fields;
}

function isLicensing(req: FastifyRequest): boolean {
  // The plain-HTTP licensing routes share the licensing bucket with their GraphQL twins.
  if (LICENSING_ROUTES.has(req.routeOptions.url ?? '')) return true;
  if (req.routeOptions.url !== '/graphql') return false;
  const source = (req.method === 'GET' ? req.query : req.body) as { query?: unknown; operationName?: unknown } | undefined;
  if (!source || typeof source.query !== 'string') return false;
  const fields = rootFields(source.query, typeof source.operationName === 'string' ? source.operationName : undefined);
  return fields !== null && fields.length > 0 && fields.every((f) => LICENSING_OPERATIONS.has(f));
}

/** The principal a request's bearer key stands for, or null (no key, or one that does not authenticate). One lookup per request (shared with the routes). */
export async function requestPrincipal(services: Services, req: FastifyRequest): Promise<Principal | null> {
  const principal = await authenticateRequest(services.apiKeys, req).catch(() => null);
  return principal instanceof AppError ? null : principal;
}

/**
 * Per-key (per client address without a valid key) token-bucket rate limits on every route
 * but the probes, with HTTP 429 and Retry-After; the licensing hot path has its own bucket
 * with a larger budget. Runs once the body is parsed (preHandler), so the GraphQL operation
 * decides the bucket. Buckets live in this process: several instances each allow the budget.
 */
export async function registerRateLimits(app: FastifyInstance, services: Services, config: Config, metrics: Metrics): Promise<void> {
  const general = config.EHUB_RATE_LIMIT_MAX;
  const licensing = config.EHUB_RATE_LIMIT_LICENSING_MAX;
  if (general === 0 && licensing === 0) return;
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: config.EHUB_RATE_LIMIT_WINDOW_MS,
    store: TokenBucketStore as never,
    keyGenerator: async (req) => {
      const principal = await requestPrincipal(services, req);
      const bucket = isLicensing(req) ? 'licensing' : 'api';
      return principal ? `${bucket}|key|${principal.keyId}` : `${bucket}|address|${req.ip}`;
    },
    allowList: (req, key) => EXEMPT_ROUTES.has(req.routeOptions.url ?? '') || (key.startsWith('licensing|') ? licensing : general) === 0,
    max: (_req, key) => (key.startsWith('licensing|') ? licensing : general),
    onExceeded: (_req, key) => {
      const [bucket, by] = key.split('|');
      metrics.rateLimited.inc({ bucket: bucket!, by: by! });
    },
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(new Error(`Rate limit exceeded: ${ctx.max} requests per ${config.EHUB_RATE_LIMIT_WINDOW_MS / 1000} s; retry in ${ctx.after}`), {
        statusCode: ctx.statusCode,
        code: 'RATE_LIMITED',
      }),
  });
}
