import v8 from 'node:v8';
import { releaseMemory, residentBytes } from './memory';

const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

/** Work that keeps objects alive across scavenges: what makes V8 grow its young generation. */
function churn(): number {
  const ring: { i: number; s: string }[] = new Array(200_000);
  let n = 0;
  for (let i = 0; i < 2_000_000; i++) {
    const old = ring[i % ring.length];
    if (old) n += old.i;
    ring[i % ring.length] = { i, s: `row ${i}` };
  }
  return n;
}

it('releaseMemory runs a full collection that shrinks the young generation, and leaves no global gc behind', () => {
  expect(churn()).toBeGreaterThan(0);
  const grown = newSpace();
  expect(grown).toBeGreaterThan(2 * 2 ** 20);
  const r = releaseMemory();
  expect(r).not.toBeNull();
  expect(r!.before).toBeGreaterThan(0);
  expect(newSpace()).toBeLessThan(grown);
  expect(newSpace()).toBeLessThanOrEqual(2 * 2 ** 20);
  expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  expect(residentBytes()).toBeGreaterThan(0);
});
