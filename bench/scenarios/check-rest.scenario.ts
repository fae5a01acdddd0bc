import { prepareCheck } from './check.scenario';
import { FLOORS } from './check-floor.scenario';
import type { Scenario } from '../support/types';

/**
 * `check` over plain HTTP (issue 15, ADR 0041): `POST /v1/check` with the same account,
 * feature, quantity and device as the `check` scenario, on the same data; every answer must be
 * exactly the probe's body. Compare with `check` (GraphQL) and `bare` in the same run.
 */
export const checkRest: Scenario = {
  name: 'check-rest',
  description: 'POST /v1/check (plain HTTP licensing): the same check as `check`, without GraphQL',
  async run(ctx) {
    const { variables } = await prepareCheck(ctx);
    const base = ctx.hub.url.replace(/\/graphql$/, '');
    const body = JSON.stringify({ accountId: variables.a, feature: variables.f, quantity: 1, deviceFingerprint: variables.d });
    const probe = await fetch(`${base}/v1/check`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.hub.adminKey}` }, body });
    const text = await probe.text();
    const parsed = JSON.parse(text) as { allowed?: boolean; code?: string };
    if (probe.status !== 200 || !parsed.allowed || parsed.code !== 'VALID') throw new Error(`check-rest: the probe request failed (${probe.status}): ${text}`);
    const figures = await ctx.load({ url: `${base}/v1/check`, headers: { authorization: `Bearer ${ctx.hub.adminKey}` }, body, expectBody: text });
    // With check-floor in the run (just before, same round): how close the check is to its floor.
    const floor = FLOORS.get(ctx.hub);
    FLOORS.delete(ctx.hub);
    if (!floor) return figures;
    const share = Math.round((1000 * figures.requestsPerSec) / floor.requestsPerSec) / 10;
    return { ...figures, headline: { value: share, unit: `% of check-floor (${Math.round(floor.requestsPerSec)} req/s)`, per: '% of check-floor' } };
  },
};
