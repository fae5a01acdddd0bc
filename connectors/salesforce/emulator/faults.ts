import type { SfError } from './errors';
import type { Store } from './store';
import type { EmulatorFaults, FaultSettings, RecordRejector, RequestFaultKind } from './types';

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

const ALL_KINDS: RequestFaultKind[] = ['EXPIRE_SESSION', 'HTTP_503', 'REQUEST_LIMIT_EXCEEDED', 'HTTP_500'];
const KNOWN_KINDS: RequestFaultKind[] = [...ALL_KINDS, 'APPLY_THEN_503'];

const RECORD_MESSAGES: Record<string, string> = {
  UNABLE_TO_LOCK_ROW: 'unable to obtain exclusive access to this record or 1 records',
  STORAGE_LIMIT_EXCEEDED: 'storage limit exceeded',
  FIELD_CUSTOM_VALIDATION_EXCEPTION: 'Record rejected by a validation rule',
};

/** The fault switches (see EmulatorFaults); the server asks it before each data call and record write. */
export class FaultController implements EmulatorFaults {
  private queued: RequestFaultKind[] = [];
  private readonly queuedOn = new Map<string, RequestFaultKind[]>();
  private settings: FaultSettings = {};
  private bulkFailuresLeft = 0;

  constructor(
    private readonly random: () => number,
    private readonly store: Store,
    private readonly onExpireSessions: () => void,
  ) {}

  expireSessions(): void {
    this.onExpireSessions();
  }

  queue(...faults: RequestFaultKind[]): void {
    for (const f of faults) {
      if (!KNOWN_KINDS.includes(f)) throw new Error(`unknown fault ${String(f)}`);
      this.queued.push(f);
    }
  }

  queueOn(endpoint: string, ...faults: RequestFaultKind[]): void {
    for (const f of faults) if (!KNOWN_KINDS.includes(f)) throw new Error(`unknown fault ${String(f)}`);
    this.queuedOn.set(endpoint, [...(this.queuedOn.get(endpoint) ?? []), ...faults]);
  }

  /** How long each data API call waits before it is answered (0: none). */
  get latencyMs(): number {
    return this.settings.latencyMs ?? 0;
  }

  set(settings: FaultSettings): void {
    this.settings = { ...settings };
    this.bulkFailuresLeft = settings.failBulkJobs ?? 0;
  }

  clear(): void {
    this.queued = [];
    this.queuedOn.clear();
    this.settings = {};
    this.bulkFailuresLeft = 0;
    this.store.rejectors.length = 0;
  }

  rejectRecord(predicate: RecordRejector): void {
    this.store.rejectors.push(predicate);
  }

  /** The fault for this data call to `endpoint`, if any (queued for the endpoint, queued, then random). */
  nextRequestFault(endpoint: string): RequestFaultKind | null {
    const on = this.queuedOn.get(endpoint)?.shift();
    if (on) return on;
    const q = this.queued.shift();
    if (q) return q;
    const rate = this.settings.rate ?? 0;
    if (rate > 0 && this.random() < rate) {
      const kinds = this.settings.kinds?.length ? this.settings.kinds : ALL_KINDS;
      return kinds[Math.floor(this.random() * kinds.length)];
    }
    return null;
  }

  /** A random per-record failure for collection and bulk writes, or null. */
  readonly recordFault = (): SfError | null => {
    const rate = this.settings.recordErrorRate ?? 0;
    if (rate <= 0 || this.random() >= rate) return null;
    const codes = this.settings.recordErrorCodes?.length ? this.settings.recordErrorCodes : ['UNABLE_TO_LOCK_ROW'];
    const code = codes[Math.floor(this.random() * codes.length)];
    return { errorCode: code, message: RECORD_MESSAGES[code] ?? `emulated ${code}`, fields: [] };
  };

  /** When this bulk job must end Failed: after how many rows (consumes one); null = it does not fail. */
  takeBulkFailure(): number | null {
    if (this.bulkFailuresLeft <= 0) return null;
    this.bulkFailuresLeft--;
    return this.settings.failBulkJobsAfterRows ?? 0;
  }
}
