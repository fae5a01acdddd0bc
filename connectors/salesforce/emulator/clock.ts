import type { EmulatorClock } from './types';

/** Real time by default; `set` freezes it (many writes then share one stamp, as in a busy org). */
export class Clock implements EmulatorClock {
  private frozenAt: number | null = null;
  private offset = 0;

  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    return this.frozenAt ?? Date.now() + this.offset;
  }

  /** Now as a Salesforce datetime string (memoized per millisecond: bulk rows share it). */
  nowText(): string {
    const ms = this.nowMs();
    if (ms !== this.textMs) {
      this.textMs = ms;
      this.text = formatDatetime(ms);
    }
    return this.text;
  }
  private textMs = NaN;
  private text = '';

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

/** Salesforce's datetime rendering, e.g. 2026-11-28T06:01:15.000+0000 (UTC, milliseconds). */
export function formatDatetime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses an ISO 8601 / Salesforce datetime (Z, ±hh:mm or ±hhmm; no zone = UTC) to epoch ms. */
export function parseDatetime(s: string): number | null {
  const m = DATETIME_RE.exec(s);
  if (!m) return null;
  let zone = m[8] ?? 'Z';
  if (zone !== 'Z' && !zone.includes(':')) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const frac = m[7] ? m[7].slice(0, 4).padEnd(4, '0') : '.000';
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${frac}${zone}`);
  return Number.isNaN(ms) ? null : ms;
}

/** True for a real calendar date YYYY-MM-DD. */
export function isValidDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}
