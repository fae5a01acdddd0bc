import { setTimeout as delay } from 'node:timers/promises';
import { ConnectorError } from './types';

/** Waits `ms`, or less when `signal` aborts meanwhile (the caller then checks `signal.aborted`). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}

/**
 * `work`, or a rejection with ConnectorError UNAVAILABLE/ABORTED (`message`) as soon as `signal`
 * aborts — the hub is stopping. The work itself goes on, unawaited: only reads are given up so.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, message: string): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ConnectorError('UNAVAILABLE', 'ABORTED', message));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
