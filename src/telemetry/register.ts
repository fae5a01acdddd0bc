import { startTelemetry, type Telemetry } from './sdk';

/**
 * Imported first by the CLI (src/cli/main.ts), before anything loads `pg` or `http`, so the
 * instrumentations can hook them. Nothing happens unless the OTEL_* variables ask for it.
 */
export const telemetry: Telemetry | null = startTelemetry(process.env);

/** Flushes spans and metrics (at most `timeoutMs`), for commands about to exit. */
export async function flushTelemetry(timeoutMs = 5_000): Promise<void> {
  if (!telemetry) return;
  await Promise.race([telemetry.shutdown(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
}
