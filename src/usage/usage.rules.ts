import { hash as digest } from 'node:crypto';
import { Deployment } from '../entitlements/entitlement.enums';
import { UNSTORABLE } from '../common/text';

/** Most events in one `recordUsage` call and in one `POST /v1/usage` body. */
export const MAX_GRAPHQL_EVENTS = 1_000;
export const MAX_NDJSON_EVENTS = 10_000;
/** The source of events that name none. */
export const DEFAULT_SOURCE = 'default';

/** Why an event of a batch was not accepted (one code per event: the first check it fails). */
export enum UsageRejectionCode {
  INVALID_EVENT = 'INVALID_EVENT',
  UNKNOWN_ACCOUNT = 'UNKNOWN_ACCOUNT',
  UNKNOWN_METER = 'UNKNOWN_METER',
  INVALID_QUANTITY = 'INVALID_QUANTITY',
  FUTURE_TIMESTAMP = 'FUTURE_TIMESTAMP',
  BEYOND_RETENTION = 'BEYOND_RETENTION',
  PROPERTIES_TOO_LARGE = 'PROPERTIES_TOO_LARGE',
  CONFLICT = 'CONFLICT',
}

export interface UsageRejection {
  index: number;
  id: string | null;
  code: UsageRejectionCode;
  message: string;
}

export interface AccountRef {
  system: string;
  object: string;
  externalId: string;
}

/** An event that passed every check needing no database: what ingest() resolves and inserts. */
export interface UsageEventDraft {
  index: number;
  id: string;
  source: string;
  accountId: string | null;
  accountRef: AccountRef | null;
  meter: string;
  /** Normalised plain decimal (no exponent, no trailing zeros). */
  quantity: string;
  occurredAt: string;
  deployment: Deployment;
  user: string | null;
  device: string | null;
  properties: Record<string, unknown> | null;
  /** SHA-256 (base64) of the canonical content: a resend has the same one, another event under the same id does not. */
  hash: string;
}

export type ParsedUsageEvent = UsageEventDraft | UsageRejection;

export const isRejection = (e: ParsedUsageEvent): e is UsageRejection => 'code' in e;

export interface ParseLimits {
  /** Now, in epoch milliseconds. */
  now: number;
  maxSkewSeconds: number;
  maxPropertiesBytes: number;
  /** EHUB_USAGE_RETENTION_MONTHS: events before the first of the month this many months back are refused (0 or absent: any age). */
  retentionMonths?: number;
}

/** The oldest instant whose events are kept with EHUB_USAGE_RETENTION_MONTHS = `months` (UTC month start), or null when all are kept. */
export function retentionCutoff(months: number | undefined, now: number): Date | null {
  if (!months) return null;
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - months, 1));
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;
/** Longest normalised decimal accepted (digits, sign and point): far beyond any real usage figure. */
const MAX_DECIMAL_LENGTH = 64;

/**
 * A JSON number or decimal string as a plain decimal string for `numeric`: no exponent,
 * no leading or trailing zeros, `-0` is `0`. Null when it is not a finite decimal (or absurdly long).
 * Strings keep every digit they carry; numbers are taken as JavaScript prints them.
 */
export function normalizeDecimal(input: unknown): string | null {
  let s: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return null;
    s = String(input);
  } else if (typeof input === 'string') {
    s = input.trim();
  } else {
    return null;
  }
  const m = DECIMAL.exec(s);
  if (!m) return null;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  if (!int && !frac) return null;
  let digits = int + frac;
  let point = int.length + Number(exp);
  while (digits.length > 0 && digits[0] === '0') {
    digits = digits.slice(1);
    point--;
  }
  while (digits.length > Math.max(point, 0) && digits.endsWith('0')) digits = digits.slice(0, -1);
  if (digits.length === 0) return '0';
  if (point > MAX_DECIMAL_LENGTH || digits.length - point > MAX_DECIMAL_LENGTH) return null;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  if (out.length > MAX_DECIMAL_LENGTH) return null;
  return sign === '-' ? `-${out}` : out;
}

/** JSON with object keys sorted at every level: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (obj[k] === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(k)}:${canonicalJson(obj[k])}`;
  }
  return `${out}}`;
}

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** An ISO 8601 instant with a time and an offset (`Z` or `±hh:mm`), as epoch milliseconds; null otherwise. */
export function parseInstant(s: string): number | null {
  const m = ISO_INSTANT.exec(s);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return null;
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > DAYS_IN_MONTH[mo - 1]! + (leap ? 1 : 0)) return null;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || (m[6] !== undefined && Number(m[6]) > 59)) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

/** `2027-03-01T12:00:00.000Z` exactly: already what toISOString() would print. */
const isCanonicalInstant = (s: string) => s.length === 24 && s.charCodeAt(23) === 90 /* Z */ && s.charCodeAt(10) === 84 /* T */ && s.charCodeAt(19) === 46; /* . */

const DEPLOYMENTS = new Set<string>(Object.values(Deployment));

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max && !UNSTORABLE.test(v);

/** Whether every string (and key) in a JSON value can be stored. */
function storable(v: unknown): boolean {
  if (typeof v === 'string') return !UNSTORABLE.test(v);
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) return v.every(storable);
  for (const [k, x] of Object.entries(v)) if (UNSTORABLE.test(k) || !storable(x)) return false;
  return true;
}
const optionalText = (v: unknown, max: number) => v === undefined || v === null || text(v, max);

/**
 * Checks one event as the client sent it (a parsed NDJSON line or a GraphQL input) against
 * everything that needs no database: shape, quantity, timestamp skew, properties size.
 * Meters and accounts are resolved by the service, for the whole batch at once.
 */
export function parseUsageEvent(raw: unknown, index: number, limits: ParseLimits): ParsedUsageEvent {
  if (!isPlainObject(raw)) return reject(index, null, UsageRejectionCode.INVALID_EVENT, 'an event must be a JSON object');
  const id = raw.id;
  if (!text(id, 255)) return reject(index, null, UsageRejectionCode.INVALID_EVENT, 'id: required, a string of 1–255 characters (no NUL)');
  const bad = (message: string, code = UsageRejectionCode.INVALID_EVENT) => reject(index, id, code, message);

  const source = raw.source ?? DEFAULT_SOURCE;
  if (!text(source, 100)) return bad('source: a string of 1–100 characters when given');

  const hasId = raw.accountId !== undefined && raw.accountId !== null;
  const hasRef = raw.accountRef !== undefined && raw.accountRef !== null;
  if (hasId === hasRef) return bad('give exactly one of accountId and accountRef');
  let accountRef: AccountRef | null = null;
  if (hasId && typeof raw.accountId !== 'string') return bad('accountId: must be a string (the account id)');
  if (hasRef) {
    const r = raw.accountRef;
    if (!isPlainObject(r) || !text(r.system, 255) || !text(r.object, 255) || !text(r.externalId, 255)) {
      return bad('accountRef: must be { system, object, externalId }, each a string of 1–255 characters');
    }
    accountRef = { system: r.system.trim().toLowerCase(), object: r.object.trim(), externalId: r.externalId.trim() };
  }

  const meter = raw.meter;
  if (!text(meter, 100)) return bad('meter: required, the meter key');
  if (raw.quantity === undefined || raw.quantity === null) return bad('quantity: required, a number');
  const quantity = normalizeDecimal(raw.quantity);
  if (quantity === null) return bad(`quantity: ${JSON.stringify(raw.quantity)} is not a finite decimal number`, UsageRejectionCode.INVALID_QUANTITY);

  if (typeof raw.occurredAt !== 'string') return bad('occurredAt: required, an ISO 8601 instant such as 2027-03-01T12:00:00Z');
  const at = parseInstant(raw.occurredAt);
  if (at === null) return bad(`occurredAt: "${raw.occurredAt.slice(0, 64)}" is not an ISO 8601 instant with a time and an offset, e.g. 2027-03-01T12:00:00Z`);
  if (at > limits.now + limits.maxSkewSeconds * 1000) {
    return bad(`occurredAt: ${raw.occurredAt} is more than ${limits.maxSkewSeconds} s in the future (check the clock of the sender)`, UsageRejectionCode.FUTURE_TIMESTAMP);
  }
  const cutoff = retentionCutoff(limits.retentionMonths, limits.now);
  if (cutoff && at < cutoff.getTime()) {
    return bad(
      `occurredAt: ${raw.occurredAt} is before ${cutoff.toISOString()}, the oldest month whose events are kept (EHUB_USAGE_RETENTION_MONTHS=${limits.retentionMonths})`,
      UsageRejectionCode.BEYOND_RETENTION,
    );
  }
  const occurredAt = isCanonicalInstant(raw.occurredAt) ? raw.occurredAt : new Date(at).toISOString();

  if (typeof raw.deployment !== 'string' || !DEPLOYMENTS.has(raw.deployment)) {
    return bad(`deployment: required, one of ${[...DEPLOYMENTS].join(', ')}`);
  }
  if (!optionalText(raw.user, 255)) return bad('user: a string of 1–255 characters when given');
  if (!optionalText(raw.device, 255)) return bad('device: a string of 1–255 characters when given');
  const props = raw.properties ?? null;
  if (props !== null && !isPlainObject(props)) return bad('properties: a JSON object when given');
  if (props !== null && !storable(props)) return bad('properties: strings must not contain NUL characters or unpaired surrogates');
  const propsJson = props === null ? '' : canonicalJson(props);
  if (propsJson.length > limits.maxPropertiesBytes / 4 && Buffer.byteLength(propsJson) > limits.maxPropertiesBytes) {
    return bad(
      `properties: ${Buffer.byteLength(propsJson)} bytes of JSON, over the limit of ${limits.maxPropertiesBytes}`,
      UsageRejectionCode.PROPERTIES_TOO_LARGE,
    );
  }
  const user = (raw.user as string | undefined) ?? null;
  const device = (raw.device as string | undefined) ?? null;
  const deployment = raw.deployment as Deployment;
  const hash = digest('sha256', JSON.stringify([meter, quantity, occurredAt, deployment, user, device]) + propsJson, 'base64');
  return {
    index,
    id,
    source,
    accountId: hasId ? (raw.accountId as string) : null,
    accountRef,
    meter,
    quantity,
    occurredAt,
    deployment,
    user,
    device,
    properties: props,
    hash,
  };
}

/** A line of an NDJSON body: JSON first, then the event checks. */
export function parseUsageLine(line: string, index: number, limits: ParseLimits): ParsedUsageEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return reject(index, null, UsageRejectionCode.INVALID_EVENT, `not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  return parseUsageEvent(raw, index, limits);
}

export function reject(index: number, id: string | null, code: UsageRejectionCode, message: string): UsageRejection {
  return { index, id, code, message };
}

/** How a meter turns an event into the figures its rollups aggregate. */
export interface MeterRule {
  key: string;
  aggregation: 'SUM' | 'COUNT' | 'MAX' | 'UNIQUE_COUNT' | 'LATEST';
  valueProperty: string | null;
}

/**
 * The meter's figure of an event: `value` (the property named by the meter for SUM, MAX and
 * LATEST when it has one, else the quantity) and, for UNIQUE_COUNT, the distinct value
 * (the property, else the user). Negative figures are corrections, allowed for SUM only.
 */
export function meterFigures(meter: MeterRule, e: UsageEventDraft): { value: string; uniqueValue: string | null } | UsageRejection {
  const vp = meter.valueProperty;
  let value = e.quantity;
  let uniqueValue: string | null = null;
  if (vp && (meter.aggregation === 'SUM' || meter.aggregation === 'MAX' || meter.aggregation === 'LATEST')) {
    const v = normalizeDecimal(e.properties?.[vp]);
    if (v === null) {
      return reject(e.index, e.id, UsageRejectionCode.INVALID_QUANTITY, `properties.${vp}: meter ${meter.key} takes its value from it; it must be a number`);
    }
    value = v;
  }
  if (meter.aggregation === 'UNIQUE_COUNT') {
    const p = vp ? e.properties?.[vp] : undefined;
    if ((typeof p === 'string' && p.length > 0 && p.length <= 1000) || (typeof p === 'number' && Number.isFinite(p))) uniqueValue = String(p);
    else if (e.user) uniqueValue = e.user;
    else {
      return reject(e.index, e.id, UsageRejectionCode.INVALID_EVENT, `meter ${meter.key} counts distinct values of properties.${vp} (or of user); the event has neither`);
    }
  }
  if (meter.aggregation !== 'SUM' && (e.quantity.startsWith('-') || value.startsWith('-'))) {
    return reject(
      e.index,
      e.id,
      UsageRejectionCode.INVALID_QUANTITY,
      `meter ${meter.key} aggregates by ${meter.aggregation}: quantities must not be negative (negative corrections are for SUM meters only)`,
    );
  }
  return { value, uniqueValue };
}

/** An entitlement usage may draw on (CANDIDATES_SQL): instants in microseconds since the epoch, null for no end. */
export interface UsageCandidate {
  id: string;
  suspended: boolean;
  start: number;
  termEnd: number | null;
  useEnd: number | null;
}

/**
 * The entitlement an event at `atMicros` draws on, among its account's candidates for the
 * meter's feature: one whose use covers the instant (start ≤ t < end of use, grace included),
 * preferring one in its term to one in grace, then one not suspended, then the soonest-ending
 * (no end last), then the earliest start, then the lowest id (uuid order is the order of the
 * lower-case text). Null when none covers it: the event is unentitled.
 */
export function chooseEntitlement(candidates: readonly UsageCandidate[] | undefined, atMicros: number): string | null {
  let best: UsageCandidate | null = null;
  let bestInTerm = false;
  for (const c of candidates ?? []) {
    if (c.start > atMicros || (c.useEnd !== null && atMicros >= c.useEnd)) continue;
    const inTerm = c.termEnd === null || atMicros < c.termEnd;
    if (best === null || isPreferred(c, inTerm, best, bestInTerm)) {
      best = c;
      bestInTerm = inTerm;
    }
  }
  return best?.id ?? null;
}

function isPreferred(c: UsageCandidate, inTerm: boolean, b: UsageCandidate, bInTerm: boolean): boolean {
  if (inTerm !== bInTerm) return inTerm;
  if (c.suspended !== b.suspended) return !c.suspended;
  if (c.termEnd !== b.termEnd) return b.termEnd === null || (c.termEnd !== null && c.termEnd < b.termEnd);
  if (c.start !== b.start) return c.start < b.start;
  return c.id < b.id;
}
