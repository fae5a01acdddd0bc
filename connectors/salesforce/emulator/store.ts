import { Clock, formatDatetime, isValidDate, parseDatetime } from './clock';
import { ApiError, type SfError } from './errors';
import { IdGenerator, normalizeId } from './ids';
import { CURRENCIES, findField, findSObject, isNumericType, isTextType, sobjectForId, type FieldDef, type SObjectDef } from './schema';
import type { FieldValue, RecordRejector, SfRecord } from './types';

/**
 * The emulated org's data: records per object (copy-on-write, so a query cursor holding record
 * objects is a consistent snapshot), unique indexes, and every write path with Salesforce's
 * validation, derived fields, parent bumps and cascades. REST, collections, Bulk API 2.0 and the
 * test helpers all write through here, so they behave the same.
 */

/** Where a write comes from; decides which faults and rejections apply. */
export type WriteSource = 'rest' | 'collection' | 'bulk' | 'helper';

export interface WriteContext {
  source: WriteSource;
  /** The acting user (CreatedById / LastModifiedById / default OwnerId). */
  userId: string;
  /** Set for allOrNone writes: every change is recorded so it can be rolled back. */
  tx?: Transaction;
  /** A random per-record failure (UNABLE_TO_LOCK_ROW ...) or null; only collections and bulk pass one. */
  recordFault?: () => SfError | null;
}

export type WriteOutcome = { ok: true; id: string; created: boolean } | { ok: false; id?: string; errors: SfError[] };

/** Input after field names are resolved and values coerced, before it is applied. */
export interface PreparedInput {
  values: Array<[FieldDef, FieldValue]>;
  /** Value-level problems found while coercing (too long, out of range, malformed id ...). */
  errors: SfError[];
}

/** How raw values arrive: JSON (typed) or CSV (strings; '' = leave unchanged, '#N/A' = null). */
export type InputMode = 'json' | 'csv';

/** A value that does not fit the field's type at all (JSON_PARSER_ERROR in REST, a deserialize error in Bulk). */
export class TypeMismatch {
  constructor(
    readonly field: FieldDef,
    readonly raw: unknown,
  ) {}
}

/** Changes made under allOrNone, in order, so they can be undone. */
export class Transaction {
  readonly saved = new Map<string, { sobject: string; prev: SfRecord | undefined }>();
  readonly savedMarks = new Map<string, string | undefined>();
}

const XSD_TYPES: Record<string, string> = {
  boolean: 'xsd:boolean',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
  double: 'xsd:double',
  int: 'xsd:int',
  currency: 'xsd:double',
  percent: 'xsd:double',
};

export function xsdTypeOf(f: FieldDef): string {
  return XSD_TYPES[f.type] ?? 'xsd:string';
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function roundTo(n: number, scale: number): number {
  const f = 10 ** scale;
  return Math.round(n * f) / f;
}

function stageFlags(stage: FieldValue): { won: boolean; closed: boolean } {
  if (stage === 'Closed Won') return { won: true, closed: true };
  if (stage === 'Closed Lost') return { won: false, closed: true };
  return { won: false, closed: false };
}

/** Per-object facts precomputed once (the write path runs 100,000 times per bulk job). */
interface ObjectMeta {
  /** A new record's starting values: null, or the field's default. */
  template: SfRecord;
  unique: FieldDef[];
  required: FieldDef[];
}

export class Store {
  readonly ids = new IdGenerator();
  private readonly data = new Map<string, Map<string, SfRecord>>();
  /** `Object.Field` → lower-cased value → id, for unique fields (deleted records excluded). */
  private readonly unique = new Map<string, Map<string, string>>();
  /** Opportunity id → its line ids (all ever created; filter on existence and IsDeleted). */
  private readonly linesByOpp = new Map<string, Set<string>>();
  /** Child id → the parent id whose delete cascaded to it (undeleting the parent restores it). */
  private readonly cascadeMarks = new Map<string, string>();
  readonly rejectors: RecordRejector[] = [];
  /** See SalesforceEmulatorOptions.strictRollupStamps. */
  strictRollupStamps = false;
  readonly userIds = new Set<string>();

  private readonly metas = new Map<string, ObjectMeta>();
  private lastDatetimeIn = '';
  private lastDatetimeOut = '';

  constructor(readonly clock: Clock) {
    for (const o of findAllObjects()) {
      this.data.set(o.name, new Map());
      for (const f of o.fields) if (f.unique) this.unique.set(`${o.name}.${f.name}`, new Map());
      const template: SfRecord = {};
      for (const f of o.fields) {
        if (f.type === 'boolean' && !f.nillable) template[f.name] = f.defaultValue === true;
        else template[f.name] = typeof f.defaultValue === 'string' ? f.defaultValue : null;
      }
      this.metas.set(o.name, { template, unique: o.fields.filter((f) => f.unique), required: o.fields.filter((f) => f.required) });
    }
  }

  private meta(sobject: string): ObjectMeta {
    return this.metas.get(sobject) as ObjectMeta;
  }

  // ───────────────────────────────────────────── reads

  table(sobject: string): Map<string, SfRecord> {
    const t = this.data.get(sobject);
    if (!t) throw new Error(`unknown sobject ${sobject}`);
    return t;
  }

  /** The stored record (not a copy; never mutate it) of any object by id. */
  byId(id: string): SfRecord | undefined {
    const obj = sobjectForId(id);
    return obj ? this.data.get(obj.name)?.get(id) : undefined;
  }

  /** Non-deleted lines of an opportunity, in creation order. */
  linesOf(oppId: string): SfRecord[] {
    const ids = this.linesByOpp.get(oppId);
    if (!ids) return [];
    const table = this.table('OpportunityLineItem');
    const out: SfRecord[] = [];
    for (const id of ids) {
      const r = table.get(id);
      if (r && r.IsDeleted === false) out.push(r);
    }
    return out;
  }

  /** Records whose (non-unique) external id equals `value`, case-insensitively, not deleted. */
  findByExternalId(obj: SObjectDef, f: FieldDef, value: string): string[] {
    const lower = value.toLowerCase();
    if (f.unique) {
      const id = this.unique.get(`${obj.name}.${f.name}`)?.get(lower);
      return id ? [id] : [];
    }
    if (f.name === 'Id') {
      const id = normalizeId(value);
      const r = id ? this.table(obj.name).get(id) : undefined;
      return r && r.IsDeleted === false ? [id as string] : [];
    }
    const out: string[] = [];
    for (const r of this.table(obj.name).values()) {
      const v = r[f.name];
      if (r.IsDeleted === false && typeof v === 'string' && v.toLowerCase() === lower) out.push(r.Id as string);
    }
    return out;
  }

  // ───────────────────────────────────────────── input preparation

  /**
   * Resolves field names (case-insensitive) and coerces values. Unknown fields throw a
   * request-level INVALID_FIELD (Salesforce rejects the whole request); a value of the wrong
   * JSON type throws JSON_PARSER_ERROR (json) or is reported per record (csv, via onMismatch).
   */
  prepare(obj: SObjectDef, input: Record<string, unknown>, mode: InputMode, skipKeys: readonly string[] = ['attributes']): PreparedInput {
    const values: Array<[FieldDef, FieldValue]> = [];
    const errors: SfError[] = [];
    for (const key of Object.keys(input)) {
      if (skipKeys.includes(key)) continue;
      const f = findField(obj, key);
      if (!f) throw ApiError.of(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${obj.name}`);
      const raw = input[key];
      if (mode === 'csv' && raw === '') continue;
      const v = this.coerce(f, raw, mode);
      if (v instanceof TypeMismatch) {
        const token = Array.isArray(raw) ? 'START_ARRAY' : typeof raw === 'object' ? 'START_OBJECT' : typeof raw === 'number' ? 'VALUE_NUMBER' : typeof raw === 'boolean' ? `VALUE_${String(raw).toUpperCase()}` : 'VALUE_STRING';
        throw ApiError.of(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${f.type} from ${token} value ${JSON.stringify(raw)} or request may be missing a required field`);
      }
      if (typeof v === 'object' && v !== null) errors.push(v);
      else values.push([f, v as FieldValue]);
    }
    return { values, errors };
  }

  /**
   * Converts a raw value for a field: the stored value, an SfError for a value-level problem,
   * or a TypeMismatch. CSV: '#N/A' means null.
   */
  coerce(f: FieldDef, raw: unknown, mode: InputMode): FieldValue | SfError | TypeMismatch {
    if (raw === null || raw === undefined || (mode === 'csv' && raw === '#N/A')) return null;
    if (typeof raw === 'object') return new TypeMismatch(f, raw);
    if (isTextType(f.type)) {
      const s = String(raw);
      if (f.type === 'id' || f.type === 'reference') {
        if (s === '') return null;
        const id = normalizeId(s);
        if (!id) return { errorCode: 'MALFORMED_ID', message: `${f.label}: id value of incorrect type: ${s}`, fields: [f.name] };
        return id;
      }
      if (s.length > f.length) {
        return { errorCode: 'STRING_TOO_LONG', message: `${f.label}: data value too large: ${s.slice(0, 40)} (max length=${f.length})`, fields: [f.name] };
      }
      if (f.type === 'email' && s !== '' && !EMAIL_RE.test(s)) {
        return { errorCode: 'INVALID_EMAIL_ADDRESS', message: `${f.label}: invalid email address: ${s}`, fields: [f.name] };
      }
      if (f.name === 'CurrencyIsoCode' && !CURRENCIES.includes(s)) {
        return { errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', message: `${f.label}: invalid currency code: ${s}`, fields: [f.name] };
      }
      return s === '' ? null : s;
    }
    if (f.type === 'boolean') {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).toLowerCase();
      if (s === 'true' || (mode === 'csv' && s === '1')) return true;
      if (s === 'false' || (mode === 'csv' && s === '0')) return false;
      return new TypeMismatch(f, raw);
    }
    if (isNumericType(f.type)) {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) return new TypeMismatch(f, raw);
      const intDigits = f.precision - f.scale;
      if (Math.abs(n) >= 10 ** intDigits) {
        return { errorCode: 'NUMBER_OUTSIDE_VALID_RANGE', message: `${f.label}: value outside of valid range on numeric field: ${n}`, fields: [f.name] };
      }
      return roundTo(n, f.type === 'int' ? 0 : f.scale);
    }
    if (f.type === 'date') {
      const s = String(raw);
      const d = s.length > 10 ? s.slice(0, 10) : s;
      if (!isValidDate(d) || (s.length > 10 && parseDatetime(s) === null)) return new TypeMismatch(f, raw);
      return d;
    }
    if (f.type === 'datetime') {
      const s = String(raw);
      // Bulk columns often repeat one instant (e.g. a sync time): reuse the last conversion.
      if (s === this.lastDatetimeIn) return this.lastDatetimeOut;
      const ms = isValidDate(s) ? Date.parse(`${s}T00:00:00Z`) : parseDatetime(s);
      if (ms === null) return new TypeMismatch(f, raw);
      this.lastDatetimeIn = s;
      this.lastDatetimeOut = formatDatetime(ms);
      return this.lastDatetimeOut;
    }
    return new TypeMismatch(f, raw);
  }

  // ───────────────────────────────────────────── writes

  insert(obj: SObjectDef, input: PreparedInput, ctx: WriteContext): WriteOutcome {
    if (input.errors.length) return { ok: false, errors: input.errors };
    const denied = input.values.filter(([f]) => !f.createable).map(([f]) => f.name);
    if (denied.length) return { ok: false, errors: [readOnlyError(denied, input.values.some(([f]) => f.name === 'Id'))] };

    const meta = this.meta(obj.name);
    const rec: SfRecord = { ...meta.template };
    if ('OwnerId' in rec) rec.OwnerId = ctx.userId;
    for (const [f, v] of input.values) rec[f.name] = f.type === 'boolean' && v === null && !f.nillable ? false : v;

    const missing: string[] = [];
    for (const f of meta.required) if (rec[f.name] === null) missing.push(f.name);
    if (missing.length) {
      return { ok: false, errors: [{ errorCode: 'REQUIRED_FIELD_MISSING', message: `Required fields are missing: [${missing.join(', ')}]`, fields: missing }] };
    }
    const problem = this.checkReferences(input.values) ?? this.deriveForWrite(obj, rec, undefined) ?? this.checkUnique(obj, rec, undefined) ?? this.checkRejections(obj, rec, ctx);
    if (problem) return { ok: false, errors: [problem] };

    const id = this.ids.next(obj.keyPrefix);
    const now = this.clock.nowText();
    rec.Id = id;
    rec.IsDeleted = false;
    rec.CreatedDate = now;
    rec.LastModifiedDate = now;
    rec.SystemModstamp = now;
    rec.CreatedById = ctx.userId;
    rec.LastModifiedById = ctx.userId;
    this.put(obj.name, rec, ctx.tx);
    if (obj.name === 'OpportunityLineItem') {
      const oppId = rec.OpportunityId as string;
      let set = this.linesByOpp.get(oppId);
      if (!set) this.linesByOpp.set(oppId, (set = new Set()));
      set.add(id);
      this.rollUpOpportunity(oppId, ctx);
    }
    return { ok: true, id, created: true };
  }

  update(obj: SObjectDef, rawId: string, input: PreparedInput, ctx: WriteContext): WriteOutcome {
    const target = this.resolveTarget(obj, rawId);
    if ('errors' in target) return target;
    const { id, prev } = target;
    if (input.errors.length) return { ok: false, id, errors: input.errors };
    const rec: SfRecord = { ...prev };
    let denied: string[] | undefined;
    let nulled: string[] | undefined;
    for (const [f, v] of input.values) {
      if (f.name === 'Id') continue;
      if (!f.updateable) (denied ??= []).push(f.name);
      const value = f.type === 'boolean' && v === null && !f.nillable ? false : v;
      if (value === null && !f.nillable) (nulled ??= []).push(f.name);
      rec[f.name] = value;
    }
    if (denied) return { ok: false, id, errors: [readOnlyError(denied, false)] };
    if (nulled) {
      return { ok: false, id, errors: [{ errorCode: 'REQUIRED_FIELD_MISSING', message: `Required fields are missing: [${nulled.join(', ')}]`, fields: nulled }] };
    }
    const problem = this.checkReferences(input.values) ?? this.deriveForWrite(obj, rec, prev) ?? this.checkUnique(obj, rec, id) ?? this.checkRejections(obj, rec, ctx);
    if (problem) return { ok: false, id, errors: [problem] };

    this.stamp(rec, ctx.userId);
    this.put(obj.name, rec, ctx.tx);
    if (obj.name === 'OpportunityLineItem') this.rollUpOpportunity(rec.OpportunityId as string, ctx);
    if (obj.name === 'Product2') this.refreshLinesOfProduct(id, ctx);
    return { ok: true, id, created: false };
  }

  /** Upsert by an external id (or Id) value: updates the one match, inserts when none. */
  upsert(obj: SObjectDef, extField: FieldDef, extValue: string, input: PreparedInput, ctx: WriteContext): WriteOutcome | { multiple: string[] } {
    const matches = this.findByExternalId(obj, extField, extValue);
    if (matches.length > 1) return { multiple: matches };
    if (matches.length === 1) {
      const values = input.values.filter(([f, v]) => !(f === extField && typeof v === 'string' && v.toLowerCase() === extValue.toLowerCase()));
      return this.update(obj, matches[0], { values, errors: input.errors }, ctx);
    }
    if (extField.name === 'Id') {
      return { ok: false, errors: [{ errorCode: 'NOT_FOUND', message: `Provided external ID field does not exist or is not accessible: ${extValue}` }] };
    }
    const values = input.values.filter(([f]) => f !== extField);
    values.push([extField, extValue]);
    return this.insert(obj, { values, errors: input.errors }, ctx);
  }

  /** Soft delete (IsDeleted=true; only queryAll sees it). Cascades to master-detail children. */
  remove(obj: SObjectDef | undefined, rawId: string, ctx: WriteContext): WriteOutcome {
    const id = normalizeId(rawId);
    const o = obj ?? (id ? sobjectForId(id) : undefined);
    if (!id || !o || (obj && !id.startsWith(obj.keyPrefix))) {
      return { ok: false, errors: [{ errorCode: 'MALFORMED_ID', message: `malformed id ${rawId}`, fields: [] }] };
    }
    const prev = this.table(o.name).get(id);
    if (!prev) return { ok: false, id, errors: [{ errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] };
    if (prev.IsDeleted === true) return { ok: false, id, errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
    const fault = ctx.recordFault?.();
    if (fault) return { ok: false, id, errors: [fault] };
    this.softDelete(o, prev, ctx, undefined);
    return { ok: true, id, created: false };
  }

  undelete(obj: SObjectDef | undefined, rawId: string, ctx: WriteContext): WriteOutcome {
    const id = normalizeId(rawId);
    const o = obj ?? (id ? sobjectForId(id) : undefined);
    if (!id || !o) return { ok: false, errors: [{ errorCode: 'MALFORMED_ID', message: `malformed id ${rawId}`, fields: [] }] };
    const prev = this.table(o.name).get(id);
    if (!prev) return { ok: false, id, errors: [{ errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] };
    if (prev.IsDeleted !== true) return { ok: false, id, errors: [{ errorCode: 'UNDELETE_FAILED', message: 'Entity is not in the recycle bin', fields: [] }] };
    const dup = this.checkUnique(o, prev, id);
    if (dup) return { ok: false, id, errors: [dup] };
    const rec: SfRecord = { ...prev, IsDeleted: false };
    this.stamp(rec, ctx.userId);
    this.put(o.name, rec, ctx.tx);
    for (const child of o.childRelationships.filter((c) => c.cascadeDelete)) {
      for (const r of this.table(child.childSObject).values()) {
        if (r[child.field] === id && r.IsDeleted === true && this.cascadeMarks.get(r.Id as string) === id) {
          this.mark(r.Id as string, undefined, ctx.tx);
          this.undelete(findSObject(child.childSObject), r.Id as string, ctx);
        }
      }
    }
    if (o.name === 'OpportunityLineItem') this.rollUpOpportunity(rec.OpportunityId as string, ctx);
    return { ok: true, id, created: false };
  }

  rollback(tx: Transaction): void {
    const entries = [...tx.saved.entries()].reverse();
    for (const [id, { sobject, prev }] of entries) {
      const table = this.table(sobject);
      const cur = table.get(id);
      if (cur) this.unindex(sobject, cur);
      if (prev) {
        table.set(id, prev);
        this.index(sobject, prev);
      } else table.delete(id);
    }
    for (const [id, prev] of tx.savedMarks) {
      if (prev === undefined) this.cascadeMarks.delete(id);
      else this.cascadeMarks.set(id, prev);
    }
  }

  // ───────────────────────────────────────────── internals

  private resolveTarget(obj: SObjectDef, rawId: string): { id: string; prev: SfRecord } | { ok: false; id?: string; errors: SfError[] } {
    const direct = rawId.length === 18 ? this.table(obj.name).get(rawId) : undefined;
    if (direct && direct.IsDeleted === false) return { id: rawId, prev: direct };
    const id = normalizeId(rawId);
    if (!id) return { ok: false, errors: [{ errorCode: 'MALFORMED_ID', message: `${obj.label} ID: id value of incorrect type: ${rawId}`, fields: ['Id'] }] };
    if (!id.startsWith(obj.keyPrefix)) {
      return { ok: false, id, errors: [{ errorCode: 'MALFORMED_ID', message: `${obj.label} ID: id value of incorrect type: ${rawId}`, fields: ['Id'] }] };
    }
    const prev = this.table(obj.name).get(id);
    if (!prev) return { ok: false, id, errors: [{ errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] };
    if (prev.IsDeleted === true) return { ok: false, id, errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
    return { id, prev };
  }

  private checkReferences(written: Array<[FieldDef, FieldValue]>): SfError | null {
    for (const [f, v] of written) {
      if (f.type !== 'reference' || v === null) continue;
      const id = v as string;
      const targets = f.referenceTo ?? [];
      if (targets.includes('User')) {
        if (!this.userIds.has(id)) return { errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: `${f.label}: invalid cross reference id`, fields: [f.name] };
        continue;
      }
      const target = sobjectForId(id);
      if (!target || !targets.includes(target.name)) {
        return { errorCode: 'FIELD_INTEGRITY_EXCEPTION', message: `${f.label}: id value of incorrect type: ${id}`, fields: [f.name] };
      }
      const parent = this.table(target.name).get(id);
      if (!parent || parent.IsDeleted === true) {
        return { errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: `${f.label}: invalid cross reference id`, fields: [f.name] };
      }
    }
    return null;
  }

  /** Computes derived fields on `rec` (mutated) and checks object rules; returns an error or null. */
  private deriveForWrite(obj: SObjectDef, rec: SfRecord, prev: SfRecord | undefined): SfError | null {
    switch (obj.name) {
      case 'Contact':
        rec.Name = [rec.FirstName, rec.LastName].filter((p) => typeof p === 'string' && p !== '').join(' ');
        return null;
      case 'Opportunity': {
        const { won, closed } = stageFlags(rec.StageName);
        rec.IsWon = won;
        rec.IsClosed = closed;
        const lines = prev ? this.linesOf(prev.Id as string) : [];
        if (lines.length) {
          if (rec.CurrencyIsoCode !== prev?.CurrencyIsoCode) {
            return { errorCode: 'FIELD_INTEGRITY_EXCEPTION', message: 'Currency ISO Code: cannot change the currency of an opportunity with products', fields: ['CurrencyIsoCode'] };
          }
          // The roll-up wins over a written Amount, as on an opportunity with products.
          rec.Amount = roundTo(lines.reduce((s, l) => s + (l.TotalPrice as number), 0), 2);
          rec.HasOpportunityLineItem = true;
        } else rec.HasOpportunityLineItem = false;
        return null;
      }
      case 'OpportunityLineItem': {
        const opp = this.table('Opportunity').get(rec.OpportunityId as string);
        const product = this.table('Product2').get(rec.Product2Id as string);
        if (!opp || !product) return { errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] };
        rec.ProductCode = product.ProductCode;
        rec.Name = product.Name;
        rec.CurrencyIsoCode = opp.CurrencyIsoCode;
        const q = rec.Quantity as number;
        const p = rec.UnitPrice as number;
        rec.TotalPrice = roundTo(q * p, 2);
        return null;
      }
      default:
        return null;
    }
  }

  private checkUnique(obj: SObjectDef, rec: SfRecord, selfId: string | undefined): SfError | null {
    for (const f of this.meta(obj.name).unique) {
      const v = rec[f.name];
      if (typeof v !== 'string') continue;
      const other = this.unique.get(`${obj.name}.${f.name}`)?.get(v.toLowerCase());
      if (other && other !== selfId) {
        return { errorCode: 'DUPLICATE_VALUE', message: `duplicate value found: ${f.name} duplicates value on record with id: ${other}`, fields: [] };
      }
    }
    return null;
  }

  private checkRejections(obj: SObjectDef, rec: SfRecord, ctx: WriteContext): SfError | null {
    if (ctx.source !== 'helper') {
      for (const reject of this.rejectors) {
        const r = reject(obj.name, { ...rec });
        if (r) return { errorCode: r.errorCode, message: r.message, fields: r.fields ?? [] };
      }
    }
    return ctx.recordFault?.() ?? null;
  }

  private stamp(rec: SfRecord, userId: string): void {
    const now = this.clock.nowText();
    rec.LastModifiedDate = now;
    rec.SystemModstamp = now;
    rec.LastModifiedById = userId;
  }

  private put(sobject: string, rec: SfRecord, tx: Transaction | undefined): void {
    const id = rec.Id as string;
    const table = this.table(sobject);
    const prev = table.get(id);
    if (tx && !tx.saved.has(id)) tx.saved.set(id, { sobject, prev });
    if (prev) this.unindex(sobject, prev);
    table.set(id, rec);
    this.index(sobject, rec);
  }

  private mark(childId: string, parentId: string | undefined, tx: Transaction | undefined): void {
    if (tx && !tx.savedMarks.has(childId)) tx.savedMarks.set(childId, this.cascadeMarks.get(childId));
    if (parentId === undefined) this.cascadeMarks.delete(childId);
    else this.cascadeMarks.set(childId, parentId);
  }

  private index(sobject: string, rec: SfRecord): void {
    if (rec.IsDeleted === true) return;
    for (const f of this.meta(sobject).unique) {
      const v = rec[f.name];
      if (typeof v === 'string') this.unique.get(`${sobject}.${f.name}`)?.set(v.toLowerCase(), rec.Id as string);
    }
  }

  private unindex(sobject: string, rec: SfRecord): void {
    for (const f of this.meta(sobject).unique) {
      const v = rec[f.name];
      if (typeof v !== 'string') continue;
      const idx = this.unique.get(`${sobject}.${f.name}`);
      if (idx?.get(v.toLowerCase()) === rec.Id) idx.delete(v.toLowerCase());
    }
  }

  private softDelete(obj: SObjectDef, prev: SfRecord, ctx: WriteContext, cascadeFrom: string | undefined): void {
    const id = prev.Id as string;
    const rec: SfRecord = { ...prev, IsDeleted: true };
    this.stamp(rec, ctx.userId);
    this.put(obj.name, rec, ctx.tx);
    if (cascadeFrom) this.mark(id, cascadeFrom, ctx.tx);
    for (const child of obj.childRelationships) {
      if (!child.cascadeDelete) continue;
      const childObj = findSObject(child.childSObject) as SObjectDef;
      const kids =
        child.childSObject === 'OpportunityLineItem' && child.field === 'OpportunityId'
          ? this.linesOf(id)
          : [...this.table(child.childSObject).values()].filter((r) => r[child.field] === id && r.IsDeleted === false);
      for (const k of kids) this.softDelete(childObj, k, ctx, id);
    }
    if (obj.name === 'OpportunityLineItem' && !cascadeFrom) this.rollUpOpportunity(prev.OpportunityId as string, ctx);
  }

  /** Recomputes an opportunity's Amount from its lines and bumps its stamps (a line changed). */
  private rollUpOpportunity(oppId: string, ctx: WriteContext): void {
    const opp = this.table('Opportunity').get(oppId);
    if (!opp || opp.IsDeleted === true) return;
    const lines = this.linesOf(oppId);
    const rec: SfRecord = { ...opp, HasOpportunityLineItem: lines.length > 0 };
    if (lines.length) rec.Amount = roundTo(lines.reduce((s, l) => s + (l.TotalPrice as number), 0), 2);
    // Strict: the parent is written only when a rolled-up value changed.
    if (this.strictRollupStamps && rec.Amount === opp.Amount && rec.HasOpportunityLineItem === opp.HasOpportunityLineItem) return;
    this.stamp(rec, ctx.userId);
    this.put('Opportunity', rec, ctx.tx);
  }

  /** Line ProductCode/Name follow their product (like a formula: no stamp change on the line). */
  private refreshLinesOfProduct(productId: string, ctx: WriteContext): void {
    const product = this.table('Product2').get(productId) as SfRecord;
    const table = this.table('OpportunityLineItem');
    for (const line of table.values()) {
      if (line.Product2Id !== productId) continue;
      this.put('OpportunityLineItem', { ...line, ProductCode: product.ProductCode, Name: product.Name }, ctx.tx);
    }
  }
}

function readOnlyError(fields: string[], hasId: boolean): SfError {
  if (hasId && fields.length === 1) return { errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', message: 'cannot specify Id in an insert call', fields: ['Id'] };
  return {
    errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
    message: `Unable to create/update fields: ${fields.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
    fields,
  };
}

function findAllObjects(): SObjectDef[] {
  return ['Account', 'Contact', 'Product2', 'Opportunity', 'OpportunityLineItem', 'Ehub_Entitlement__c', 'Entitlement'].map((n) => findSObject(n) as SObjectDef);
}
