import { VERSION } from '../../src/version';
import type { Scenario } from '../support/types';

const QUERY = 'query Trivial { hub { version } }';

/**
 * The cheapest authenticated GraphQL request: the fixed cost of the stack (Fastify, Apollo,
 * API-key check from the in-process cache, type-graphql authorisation, error formatting,
 * metrics) with no database work.
 */
export const trivial: Scenario = {
  name: 'trivial',
  description: 'Authenticated GraphQL `query Trivial { hub { version } }` (no database work)',
  async run(ctx) {
    const probe = await ctx.hub.post(QUERY);
    const parsed = JSON.parse(probe.text) as { data?: { hub?: { version?: string } }; errors?: unknown[] };
    if (probe.status !== 200 || parsed.errors?.length || parsed.data?.hub?.version !== VERSION) {
      throw new Error(`trivial: the probe request failed (${probe.status}): ${probe.text}`);
    }
    return ctx.load({
      url: ctx.hub.url,
      headers: { authorization: `Bearer ${ctx.hub.adminKey}` },
      body: JSON.stringify({ query: QUERY, operationName: 'Trivial' }),
      // Every answer must be exactly the probe's: a GraphQL error would come back as HTTP 200.
      expectBody: probe.text,
    });
  },
};
