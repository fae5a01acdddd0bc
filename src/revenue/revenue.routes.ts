import type { FastifyInstance } from 'fastify';
import type { Services } from '../server/services';

/** HTTP routes of the revenue domain (CSV exports). */
export function registerRevenueRoutes(_app: FastifyInstance, _services: Services): void {}
