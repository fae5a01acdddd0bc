import type { FastifyInstance } from 'fastify';
import type { Services } from '../server/services';

/** HTTP routes of the usage domain (POST /v1/usage, NDJSON). */
export function registerUsageRoutes(_app: FastifyInstance, _services: Services): void {}
