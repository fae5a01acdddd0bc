import perfHooks, { PerformanceObserver } from 'node:perf_hooks';
import { startTestHub } from '../support/test-hub';

/**
 * Closing the app stops what its metrics started in the process: prom-client's GC observer and
 * event-loop monitor, which otherwise keep the whole hub reachable for the life of the process
 * (src/server/metrics.ts; one per app built: tests, a second instance, CLI commands).
 */
describe('closing the app', () => {
  it('disconnects the GC observer and disables the event-loop monitor its metrics started', async () => {
    const observers: PerformanceObserver[] = [];
    const disconnected = new Set<PerformanceObserver>();
    const monitors: perfHooks.ELDHistogram[] = [];
    const observe = PerformanceObserver.prototype.observe;
    const disconnect = PerformanceObserver.prototype.disconnect;
    const monitor = perfHooks.monitorEventLoopDelay;
    PerformanceObserver.prototype.observe = function (this: PerformanceObserver, ...args: Parameters<typeof observe>) {
      if ((args[0] as { entryTypes?: string[] }).entryTypes?.includes('gc')) observers.push(this);
      return observe.apply(this, args);
    };
    PerformanceObserver.prototype.disconnect = function (this: PerformanceObserver) {
      disconnected.add(this);
      return disconnect.call(this);
    };
    perfHooks.monitorEventLoopDelay = (...args: Parameters<typeof monitor>) => {
      const h = monitor(...args);
      monitors.push(h);
      return h;
    };
    try {
      const hub = await startTestHub();
      expect(observers).toHaveLength(1);
      expect(monitors).toHaveLength(1);
      expect(disconnected.has(observers[0]!)).toBe(false);
      await hub.close();
      expect(disconnected.has(observers[0]!)).toBe(true);
      // disable() answers false when the monitor was already stopped.
      expect(monitors[0]!.disable()).toBe(false);
    } finally {
      PerformanceObserver.prototype.observe = observe;
      PerformanceObserver.prototype.disconnect = disconnect;
      perfHooks.monitorEventLoopDelay = monitor;
    }
  });
});
