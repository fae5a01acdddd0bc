/** The emulator's clock: real time by default; `set` freezes it, `advance` moves it, `release` returns to real time. */
export class Clock {
  private frozenAt: number | null = null;
  private offset = 0;

  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    return this.frozenAt ?? Date.now() + this.offset;
  }

  set(iso: string | Date): void {
    const ms = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
    if (Number.isNaN(ms)) throw new Error(`clock.set: invalid instant ${String(iso)}`);
    this.frozenAt = ms;
  }

  advance(ms: number): void {
    if (this.frozenAt !== null) this.frozenAt += ms;
    else this.offset += ms;
  }

  release(): void {
    this.frozenAt = null;
    this.offset = 0;
  }
}

/** A small seeded PRNG (mulberry32) so random faults repeat from run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
