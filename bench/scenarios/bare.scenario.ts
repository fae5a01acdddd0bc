import type { Scenario } from '../support/types';

/** The baseline every other figure is divided by: what Node and Fastify alone do on this machine, in this run. */
export const bare: Scenario = {
  name: 'bare',
  description: 'Bare Fastify: POST /bare, JSON body parsed, small JSON answer (baseline)',
  async run(ctx) {
    const body = JSON.stringify({ query: 'query Trivial { hub { version } }' });
    const probe = await fetch(ctx.bare.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const expectBody = await probe.text();
    if (probe.status !== 200) throw new Error(`bare: expected 200, got ${probe.status}: ${expectBody}`);
    return ctx.load({ url: ctx.bare.url, body, expectBody });
  },
};
