import { prepareCheck } from './check.scenario';
import { CHECK_FLOOR_ANSWER, CHECK_FLOOR_PATH } from '../support/environment';
import type { Figures, Scenario } from '../support/types';

/** The floor's figures of each round, for check-rest's headline (the same hub, the round before). */
export const FLOORS = new WeakMap<object, Figures>();

/**
 * The floor of `POST /v1/check` (ADR 0063): a bench-only route on the hub built with the
 * licensing routes' own machinery — the API key checked, the same body validated against the
 * check's schema, every app-wide hook (security headers, rate limiter, metrics) — whose handler
 * answers a fixed body without checking anything. Whatever check-rest costs beyond this is the
 * check itself; what this costs beyond `bare` is what any route of the hub costs.
 */
export const checkFloor: Scenario = {
  name: 'check-floor',
  description: 'The /v1/check route with a handler that checks nothing (key, validation, hooks): the floor of check-rest',
  async run(ctx) {
    const { variables } = await prepareCheck(ctx);
    const url = `${ctx.hub.url.replace(/\/graphql$/, '')}${CHECK_FLOOR_PATH}`;
    const body = JSON.stringify({ accountId: variables.a, feature: variables.f, quantity: 1, deviceFingerprint: variables.d });
    const headers = { authorization: `Bearer ${ctx.hub.adminKey}` };
    const probe = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await probe.text();
    if (probe.status !== 200 || text !== JSON.stringify(CHECK_FLOOR_ANSWER)) throw new Error(`check-floor: the probe request failed (${probe.status}): ${text}`);
    // The route must refuse what /v1/check refuses, or it would be a cheaper route than the check's.
    const invalid = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ accountId: variables.a, feature: 5 }) });
    const noKey = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (invalid.status !== 400 || noKey.status !== 401) throw new Error(`check-floor: expected 400 for a bad body and 401 without a key, got ${invalid.status} and ${noKey.status}`);
    const figures = await ctx.load({ url, headers, body, expectBody: text });
    FLOORS.set(ctx.hub, figures);
    return figures;
  },
};
