/**
 * Exponential backoff with jitter for outboxes (webhooks, sync): base × 2^(attempt−1), capped,
 * then a random point in its upper half ("equal jitter"), so retries of many items spread out
 * while still growing. `attempt` counts from 1.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
