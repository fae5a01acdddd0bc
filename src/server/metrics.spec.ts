import perfHooks from 'node:perf_hooks';
import vm from 'node:vm';
import { releaseMemory } from './memory';
import { Metrics } from './metrics';

/** Observations of the GC duration histogram so far. */
async function gcCount(m: Metrics): Promise<number> {
  const metric = await m.registry.getSingleMetric('ehub_nodejs_gc_duration_seconds')!.get();
  return metric.values.filter((v) => (v as { metricName?: string }).metricName === 'ehub_nodejs_gc_duration_seconds_count').reduce((a, v) => a + v.value, 0);
}

/** A full GC (the hub's own way to one: no global gc left behind for later test files), then a turn of the event loop for the observer's callback. */
async function collectGarbage(): Promise<void> {
  expect(releaseMemory()).not.toBeNull();
  await new Promise((r) => setTimeout(r, 20));
}

describe('Metrics (the default process metrics)', () => {
  it('observes garbage collections until closed, and not after (prom-client never stops its GC observer: prometheus/client_js#500)', async () => {
    const m = new Metrics();
    // The observer's callback comes on a later turn of the event loop: wait for it (bounded).
    for (let i = 0; i < 100 && (await gcCount(m)) === 0; i++) await collectGarbage();
    expect(await gcCount(m)).toBeGreaterThan(0);
    m.close();
    await new Promise((r) => setTimeout(r, 50)); // anything observed before close() is counted by now
    const closed = await gcCount(m);
    await collectGarbage();
    await collectGarbage();
    expect(await gcCount(m)).toBe(closed);
    // Nothing here leaves --expose-gc set: a later test file's context would get a global gc.
    expect(vm.runInNewContext('typeof gc')).toBe('undefined');
  });

  it('stops the event-loop delay monitor it started when closed', () => {
    const started: perfHooks.ELDHistogram[] = [];
    const monitor = perfHooks.monitorEventLoopDelay;
    perfHooks.monitorEventLoopDelay = (...args) => {
      const h = monitor(...args);
      started.push(h);
      return h;
    };
    let m: Metrics;
    try {
      m = new Metrics();
    } finally {
      perfHooks.monitorEventLoopDelay = monitor;
    }
    expect(started).toHaveLength(1);
    m.close();
    // disable() answers false when the monitor was already stopped.
    expect(started[0]!.disable()).toBe(false);
  });

  it('leaves PerformanceObserver and monitorEventLoopDelay as it found them', () => {
    const observe = perfHooks.PerformanceObserver.prototype.observe;
    const monitor = perfHooks.monitorEventLoopDelay;
    new Metrics().close();
    expect(perfHooks.PerformanceObserver.prototype.observe).toBe(observe);
    expect(perfHooks.monitorEventLoopDelay).toBe(monitor);
  });
});
