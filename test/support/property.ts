import fc from 'fast-check';

/**
 * Settings for every property test and the schema fuzzer: a fixed seed and a bounded number
 * of runs in CI, both overridable for a longer release-check run (docs/testing.md):
 * `EHUB_FUZZ_SEED=<int> EHUB_FUZZ_RUNS_SCALE=<factor> npm run test:jest -- <files>`.
 */
export const FUZZ_SEED = Number(process.env.EHUB_FUZZ_SEED ?? 20271104);
const RUNS_SCALE = Number(process.env.EHUB_FUZZ_RUNS_SCALE ?? 1);

/** fast-check parameters: fixed seed; `runs` (the CI count) scaled by EHUB_FUZZ_RUNS_SCALE. */
export function fcParams<T>(runs = 200): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * RUNS_SCALE)), endOnFailure: true };
}

/** Asserts a property with the fixed seed (the failure message names the seed and the counterexample). */
export function check<Ts extends [unknown, ...unknown[]]>(prop: fc.IPropertyWithHooks<Ts> | fc.IProperty<Ts>, runs?: number): void {
  fc.assert(prop as fc.IProperty<Ts>, fcParams(runs));
}
