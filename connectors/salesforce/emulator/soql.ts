import {
  parseQuery,
  type Condition,
  type FieldType,
  type OrderByClause,
  type Query,
  type Subquery,
  type ValueQueryCondition,
  type WhereClause,
} from '@jetstreamapp/soql-parser-js';
import { formatDatetime, parseDatetime } from './clock';
import { ApiError } from './errors';
import { normalizeId } from './ids';
import { findSObject, isNumericType, isTextType, type ChildRelationship, type FieldDef, type SObjectDef } from './schema';
import type { Store } from './store';
import type { FieldValue, SfRecord } from './types';

/**
 * SOQL over the store: the query is parsed by @jetstreamapp/soql-parser-js, then compiled
 * against the schema (unknown fields → INVALID_FIELD, literal/type mismatches as Salesforce
 * reports them) into a filter, a sort and a renderer producing REST query records.
 */

/** A field reached from the queried object, possibly through parent relationships. */
interface FieldPath {
  /** Reference fields walked (AccountId for Account.Name), in order. */
  hops: FieldDef[];
  /** Canonical relationship names for rendering (Account, Opportunity, Account__r). */
  relNames: string[];
  /** Objects reached by each hop. */
  hopObjs: SObjectDef[];
  field: FieldDef;
}

type SelectItem =
  | { kind: 'field'; path: FieldPath }
  | { kind: 'sub'; rel: ChildRelationship; plan: QueryPlan }
  | { kind: 'count'; alias: string; path: FieldPath | null };

type Predicate = (rec: SfRecord) => boolean;

interface OrderKey {
  path: FieldPath;
  desc: boolean;
  nullsFirst: boolean;
}

export interface QueryOptions {
  /** queryAll: deleted records too. */
  includeDeleted: boolean;
  /** "now" for date literals (TODAY, LAST_N_DAYS:n). */
  nowMs: number;
}

/** A compiled query, ready to run. */
export class QueryPlan {
  constructor(
    readonly obj: SObjectDef,
    readonly select: SelectItem[],
    readonly countOnly: boolean,
    private readonly where: Predicate | null,
    private readonly order: OrderKey[],
    readonly limit: number | undefined,
    readonly offset: number,
    private readonly store: Store,
    private readonly opts: QueryOptions,
  ) {}

  get isAggregate(): boolean {
    return this.select.some((s) => s.kind === 'count');
  }

  /** The matching records (stored objects, a snapshot), sorted, offset and limited. */
  run(source?: Iterable<SfRecord>): SfRecord[] {
    const out: SfRecord[] = [];
    for (const r of source ?? this.store.table(this.obj.name).values()) {
      if (!this.opts.includeDeleted && r.IsDeleted === true) continue;
      if (this.where && !this.where(r)) continue;
      out.push(r);
    }
    let rows = out;
    if (this.order.length) rows = sortRecords(rows, this.order, this.store);
    if (this.offset) rows = rows.slice(this.offset);
    if (this.limit !== undefined) rows = rows.slice(0, this.limit);
    return rows;
  }

  /** The REST rendering of one record (attributes first, then selected fields in order). */
  render(rec: SfRecord, version: string): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: attributesOf(this.obj.name, rec.Id as string, version) };
    for (const item of this.select) {
      if (item.kind === 'field') renderPath(out, rec, item.path, this.store, version);
      else if (item.kind === 'sub') out[item.rel.relationshipName] = this.renderChildren(item.rel, item.plan, rec, version);
    }
    return out;
  }

  /** One AggregateResult row for COUNT(field) queries. */
  renderAggregate(rows: SfRecord[]): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: { type: 'AggregateResult' } };
    for (const item of this.select) {
      if (item.kind !== 'count') continue;
      const p = item.path;
      out[item.alias] = p ? rows.filter((r) => getPath(r, p, this.store) !== null).length : rows.length;
    }
    return out;
  }

  private childIndex = new Map<ChildRelationship, Map<string, SfRecord[]>>();

  private renderChildren(rel: ChildRelationship, plan: QueryPlan, parent: SfRecord, version: string): unknown {
    let index = this.childIndex.get(rel);
    if (!index) {
      // Group all matching children once per query (snapshot at first render), then slice per parent.
      index = new Map();
      const unlimited = new QueryPlan(plan.obj, plan.select, false, plan.where, plan.order, undefined, 0, this.store, plan.opts);
      for (const c of unlimited.run()) {
        const pid = c[rel.field];
        if (typeof pid !== 'string') continue;
        let list = index.get(pid);
        if (!list) index.set(pid, (list = []));
        list.push(c);
      }
      this.childIndex.set(rel, index);
    }
    let kids = index.get(parent.Id as string) ?? [];
    if (plan.offset) kids = kids.slice(plan.offset);
    if (plan.limit !== undefined) kids = kids.slice(0, plan.limit);
    if (!kids.length) return null;
    return { totalSize: kids.length, done: true, records: kids.map((k) => plan.render(k, version)) };
  }
}

export function attributesOf(type: string, id: string, version: string): { type: string; url: string } {
  return { type, url: `/services/data/v${version}/sobjects/${type}/${id}` };
}

function renderPath(out: Record<string, unknown>, rec: SfRecord, path: FieldPath, store: Store, version: string): void {
  let target = out;
  let cur: SfRecord | undefined = rec;
  for (let i = 0; i < path.hops.length; i++) {
    const rel = path.relNames[i];
    const parentId: FieldValue | undefined = cur ? cur[path.hops[i].name] : undefined;
    const parent: SfRecord | undefined = typeof parentId === 'string' ? liveParent(store, parentId) : undefined;
    if (!parent) {
      if (!(rel in target)) target[rel] = null;
      return;
    }
    let nested = target[rel] as Record<string, unknown> | null | undefined;
    if (!nested) {
      nested = { attributes: attributesOf(path.hopObjs[i].name, parent.Id as string, version) };
      target[rel] = nested;
    }
    target = nested;
    cur = parent;
  }
  target[path.field.name] = cur ? cur[path.field.name] : null;
}

function liveParent(store: Store, id: string): SfRecord | undefined {
  const p = store.byId(id);
  return p && p.IsDeleted === false ? p : undefined;
}

function getPath(rec: SfRecord, path: FieldPath, store: Store): FieldValue {
  let cur: SfRecord | undefined = rec;
  for (const hop of path.hops) {
    const id: FieldValue = cur[hop.name];
    cur = typeof id === 'string' ? liveParent(store, id) : undefined;
    if (!cur) return null;
  }
  return cur[path.field.name] ?? null;
}

// ───────────────────────────────────────────── comparison

type Kind = 'text' | 'id' | 'number' | 'boolean' | 'date' | 'datetime';

function kindOf(f: FieldDef): Kind {
  if (f.type === 'id' || f.type === 'reference') return 'id';
  if (isTextType(f.type)) return 'text';
  if (isNumericType(f.type)) return 'number';
  if (f.type === 'boolean') return 'boolean';
  return f.type === 'date' ? 'date' : 'datetime';
}

/** Compares two non-null values of the same kind; text compares case-insensitively as SOQL does. */
function compare(a: FieldValue, b: FieldValue, kind: Kind): number {
  if (kind === 'text') {
    const x = String(a).toLowerCase();
    const y = String(b).toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (kind === 'boolean') return Number(a) - Number(b);
  if (kind === 'number') return (a as number) - (b as number);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortRecords(rows: SfRecord[], order: OrderKey[], store: Store): SfRecord[] {
  const keyed = rows.map((r, i) => ({ r, i, k: order.map((o) => getPath(r, o.path, store)) }));
  const kinds = order.map((o) => kindOf(o.path.field));
  keyed.sort((a, b) => {
    for (let j = 0; j < order.length; j++) {
      const x = a.k[j];
      const y = b.k[j];
      if (x === y) continue;
      const o = order[j];
      if (x === null || y === null) return (x === null) === o.nullsFirst ? -1 : 1;
      const c = compare(x, y, kinds[j]);
      if (c !== 0) return o.desc ? -c : c;
    }
    return a.i - b.i;
  });
  return keyed.map((k) => k.r);
}

// ───────────────────────────────────────────── compilation

function malformed(message: string): ApiError {
  return ApiError.of(400, 'MALFORMED_QUERY', message);
}

function invalidField(name: string, obj: SObjectDef): ApiError {
  return ApiError.of(
    400,
    'INVALID_FIELD',
    `No such column '${name}' on entity '${obj.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
  );
}

/** Resolves `Account.Owner.Name`-style paths (the object name or alias may lead). */
function resolvePath(obj: SObjectDef, raw: string, alias: string | undefined): FieldPath {
  let parts = raw.split('.');
  if (parts.length > 1 && (parts[0].toLowerCase() === obj.name.toLowerCase() || (alias && parts[0].toLowerCase() === alias.toLowerCase()))) {
    parts = parts.slice(1);
  }
  const hops: FieldDef[] = [];
  const relNames: string[] = [];
  const hopObjs: SObjectDef[] = [];
  let cur = obj;
  for (const rel of parts.slice(0, -1)) {
    const ref = cur.byRelationship.get(rel.toLowerCase());
    const next = ref?.referenceTo?.[0] ? findSObject(ref.referenceTo[0]) : undefined;
    if (!ref || !next) {
      throw ApiError.of(
        400,
        'INVALID_FIELD',
        `Didn't understand relationship '${rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    hops.push(ref);
    relNames.push(ref.relationshipName as string);
    hopObjs.push(next);
    cur = next;
  }
  const last = parts[parts.length - 1];
  const field = cur.byLowerName.get(last.toLowerCase());
  if (!field) throw invalidField(last, cur);
  return { hops, relNames, hopObjs, field };
}

function unquote(s: string): string {
  if (s.length < 2 || s[0] !== "'" || s[s.length - 1] !== "'") return s;
  const body = s.slice(1, -1);
  const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', "'": "'", '"': '"', '\\': '\\' };
  // LIKE escapes (\% and \_) are kept escaped; likeToRegex understands them.
  return body.replace(/\\(.)/g, (_m, c: string) => (c === '%' || c === '_' ? `\\${c}` : (map[c] ?? c)));
}

function likeToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 'is');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface DateRange {
  /** Inclusive start and exclusive end, as comparable stored strings of the field's kind. */
  start: string;
  end: string;
}

function dateLiteralRange(literal: string, n: number | undefined, kind: Kind, nowMs: number): DateRange {
  const day = 86_400_000;
  const today = Math.floor(nowMs / day) * day;
  const name = literal.split(':')[0].toUpperCase();
  let from: number;
  let to: number;
  switch (name) {
    case 'TODAY':
      [from, to] = [today, today + day];
      break;
    case 'YESTERDAY':
      [from, to] = [today - day, today];
      break;
    case 'TOMORROW':
      [from, to] = [today + day, today + 2 * day];
      break;
    case 'LAST_N_DAYS':
      [from, to] = [today - (n ?? 0) * day, today + day];
      break;
    case 'NEXT_N_DAYS':
      [from, to] = [today + day, today + (1 + (n ?? 0)) * day];
      break;
    case 'N_DAYS_AGO':
      [from, to] = [today - (n ?? 0) * day, today - (n ?? 0) * day + day];
      break;
    default:
      throw malformed(`Date literal ${literal} is not supported by the emulator`);
  }
  if (kind === 'date') return { start: formatDatetime(from).slice(0, 10), end: formatDatetime(to).slice(0, 10) };
  return { start: formatDatetime(from), end: formatDatetime(to) };
}

const KIND_NAMES: Record<Kind, string> = { text: 'string', id: 'id', number: 'number', boolean: 'boolean', date: 'date', datetime: 'dateTime' };

/** Converts one literal for comparison with a field of `kind`, or throws Salesforce's filter error. */
function literalValue(raw: string, literalType: string, kind: Kind, f: FieldDef): FieldValue {
  const wrongType = (): ApiError =>
    ApiError.of(400, 'INVALID_FIELD', `value of filter criterion for field '${f.name}' must be of type ${KIND_NAMES[kind]} and should not be enclosed in quotes`);
  if (literalType === 'NULL') return null;
  switch (kind) {
    case 'text':
      if (literalType !== 'STRING') throw wrongType();
      return unquote(raw);
    case 'id': {
      if (literalType !== 'STRING') throw wrongType();
      const s = unquote(raw);
      if (s === '') return '';
      const id = normalizeId(s);
      if (!id) throw ApiError.of(400, 'INVALID_QUERY_FILTER_OPERATOR', `invalid ID field: ${s}`);
      return id;
    }
    case 'number':
      if (literalType !== 'INTEGER' && literalType !== 'DECIMAL') throw wrongType();
      return Number(raw);
    case 'boolean':
      if (literalType !== 'BOOLEAN') throw wrongType();
      return raw.toUpperCase() === 'TRUE';
    case 'date':
      if (literalType !== 'DATE') throw wrongType();
      return raw;
    case 'datetime': {
      if (literalType !== 'DATETIME') throw wrongType();
      const ms = parseDatetime(raw);
      if (ms === null) throw malformed(`invalid datetime literal ${raw}`);
      return formatDatetime(ms);
    }
  }
}

type Token = { t: '(' | ')' | 'NOT' | 'AND' | 'OR' } | { t: 'cond'; c: Condition | ValueQueryCondition };

function linearize(node: WhereClause | undefined, out: Token[]): void {
  if (!node) return;
  const left = node.left as (Condition & { field?: string; fn?: unknown; openParen?: number; closeParen?: number }) | null;
  const op = 'operator' in node ? node.operator : undefined;
  const right = 'right' in node ? node.right : undefined;
  if (op === 'NOT' && (left === null || (left.field === undefined && left.fn === undefined))) {
    for (let i = 0; i < (left?.openParen ?? 0); i++) out.push({ t: '(' });
    out.push({ t: 'NOT' });
    linearize(right, out);
    return;
  }
  if (!left) throw malformed('unexpected token in WHERE');
  for (let i = 0; i < (left.openParen ?? 0); i++) out.push({ t: '(' });
  out.push({ t: 'cond', c: left });
  for (let i = 0; i < (left.closeParen ?? 0); i++) out.push({ t: ')' });
  if (op === 'AND' || op === 'OR') {
    out.push({ t: op });
    linearize(right, out);
  } else if (op === 'NOT') {
    out.push({ t: 'NOT' });
    linearize(right, out);
  }
}

class Compiler {
  constructor(
    private readonly store: Store,
    private readonly opts: QueryOptions,
  ) {}

  compile(q: Query | Subquery, obj: SObjectDef): QueryPlan {
    if (q.groupBy || q.having) throw malformed('GROUP BY and HAVING are not supported by the emulator');
    const alias = q.sObjectAlias;
    const select: SelectItem[] = [];
    let countOnly = false;
    for (const f of q.fields ?? []) select.push(...this.selectItem(f, obj, alias, (v) => (countOnly = v)));
    if (countOnly && select.length) throw malformed('COUNT() must be the only element in the SELECT list');
    if (!countOnly && !select.length) throw malformed('no fields selected');
    const where = q.where ? this.where(q.where, obj, alias) : null;
    const orderBy: OrderByClause[] = q.orderBy ? (Array.isArray(q.orderBy) ? q.orderBy : [q.orderBy]) : [];
    const order = orderBy.map((o): OrderKey => {
      if (!('field' in o) || !o.field) throw malformed('ORDER BY functions are not supported by the emulator');
      const desc = o.order === 'DESC';
      return { path: resolvePath(obj, o.field, alias), desc, nullsFirst: o.nulls ? o.nulls === 'FIRST' : !desc };
    });
    if (q.offset !== undefined && q.offset > 2000) {
      throw ApiError.of(400, 'NUMBER_OUTSIDE_VALID_RANGE', `Maximum SOQL offset allowed is 2000`);
    }
    return new QueryPlan(obj, select, countOnly, where, order, q.limit, q.offset ?? 0, this.store, this.opts);
  }

  private selectItem(f: FieldType, obj: SObjectDef, alias: string | undefined, setCount: (v: boolean) => void): SelectItem[] {
    switch (f.type) {
      case 'Field':
        return [{ kind: 'field', path: resolvePath(obj, f.field, alias) }];
      case 'FieldRelationship':
        return [{ kind: 'field', path: resolvePath(obj, [...f.relationships, f.field].join('.'), alias) }];
      case 'FieldSubquery': {
        const sub = f.subquery;
        const rel = obj.childRelationships.find((c) => c.relationshipName.toLowerCase() === sub.relationshipName.toLowerCase());
        if (!rel) {
          throw ApiError.of(
            400,
            'INVALID_TYPE',
            `Didn't understand relationship '${sub.relationshipName}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
          );
        }
        return [{ kind: 'sub', rel, plan: this.compile(sub, findSObject(rel.childSObject) as SObjectDef) }];
      }
      case 'FieldFunctionExpression': {
        const fn = f.functionName.toUpperCase();
        if (fn === 'COUNT') {
          const params = f.parameters.filter((p): p is string => typeof p === 'string');
          if (!params.length) {
            setCount(true);
            return [];
          }
          return [{ kind: 'count', alias: f.alias ?? 'expr0', path: resolvePath(obj, params[0], alias) }];
        }
        if (fn === 'FIELDS') {
          const which = String(f.parameters[0] ?? '').toUpperCase();
          return obj.fields
            .filter((d) => which === 'ALL' || (which === 'CUSTOM' ? d.custom : !d.custom))
            .map((d) => ({ kind: 'field' as const, path: { hops: [], relNames: [], hopObjs: [], field: d } }));
        }
        throw malformed(`Function ${f.functionName} is not supported by the emulator`);
      }
      default:
        throw malformed('TYPEOF is not supported by the emulator');
    }
  }

  private where(w: WhereClause, obj: SObjectDef, alias: string | undefined): Predicate {
    const tokens: Token[] = [];
    linearize(w, tokens);
    let pos = 0;
    const peek = (): Token | undefined => tokens[pos];
    const parseOr = (): Predicate => {
      let a = parseAnd();
      while (peek()?.t === 'OR') {
        pos++;
        const l = a;
        const r = parseAnd();
        a = (rec) => l(rec) || r(rec);
      }
      return a;
    };
    const parseAnd = (): Predicate => {
      let a = parseNot();
      while (peek()?.t === 'AND') {
        pos++;
        const l = a;
        const r = parseNot();
        a = (rec) => l(rec) && r(rec);
      }
      return a;
    };
    const parseNot = (): Predicate => {
      if (peek()?.t === 'NOT') {
        pos++;
        const inner = parseNot();
        return (rec) => !inner(rec);
      }
      return parsePrimary();
    };
    const parsePrimary = (): Predicate => {
      const tok = tokens[pos++];
      if (!tok) throw malformed('unexpected end of WHERE clause');
      if (tok.t === '(') {
        const e = parseOr();
        if (tokens[pos++]?.t !== ')') throw malformed('unbalanced parentheses in WHERE clause');
        return e;
      }
      if (tok.t !== 'cond') throw malformed(`unexpected ${tok.t} in WHERE clause`);
      return this.condition(tok.c, obj, alias);
    };
    const pred = parseOr();
    if (pos !== tokens.length) throw malformed('unexpected token in WHERE clause');
    return pred;
  }

  private condition(c: Condition | ValueQueryCondition, obj: SObjectDef, alias: string | undefined): Predicate {
    if (!('field' in c) || typeof c.field !== 'string') throw malformed('functions in WHERE are not supported by the emulator');
    const path = resolvePath(obj, c.field, alias);
    const kind = kindOf(path.field);
    const store = this.store;
    const get = (rec: SfRecord): FieldValue => getPath(rec, path, store);
    const op = c.operator;

    if ('valueQuery' in c && c.valueQuery) {
      // Semi-join: field IN (SELECT x FROM ...)
      const subObj = findSObject(c.valueQuery.sObject ?? '');
      if (!subObj) throw unknownObject(c.valueQuery.sObject ?? '');
      const plan = this.compile(c.valueQuery, subObj);
      const item = plan.select[0];
      if (plan.select.length !== 1 || item.kind !== 'field') throw malformed('a semi-join sub-select must select exactly one field');
      const values = new Set(plan.run().map((r) => getPath(r, item.path, store)));
      if (op === 'IN') return (rec) => values.has(get(rec));
      if (op === 'NOT IN') return (rec) => !values.has(get(rec));
      throw malformed(`operator ${op} cannot take a sub-select`);
    }

    if (!('value' in c)) throw malformed('a condition without a value');
    const literalType = Array.isArray(c.literalType) ? c.literalType[0] : (c.literalType ?? 'STRING');
    if (literalType === 'DATE_LITERAL' || literalType === 'DATE_N_LITERAL') {
      if (kind !== 'date' && kind !== 'datetime') {
        throw ApiError.of(400, 'INVALID_FIELD', `value of filter criterion for field '${path.field.name}' must be of type ${KIND_NAMES[kind]} and should not be enclosed in quotes`);
      }
      const n = 'dateLiteralVariable' in c ? (Array.isArray(c.dateLiteralVariable) ? c.dateLiteralVariable[0] : c.dateLiteralVariable) : undefined;
      const range = dateLiteralRange(String(Array.isArray(c.value) ? c.value[0] : c.value), n, kind, this.opts.nowMs);
      const inRange = (v: FieldValue): boolean => v !== null && String(v) >= range.start && String(v) < range.end;
      switch (op) {
        case '=':
          return (rec) => inRange(get(rec));
        case '!=':
          return (rec) => !inRange(get(rec));
        case '<':
          return (rec) => {
            const v = get(rec);
            return v !== null && String(v) < range.start;
          };
        case '<=':
          return (rec) => {
            const v = get(rec);
            return v !== null && String(v) < range.end;
          };
        case '>':
          return (rec) => {
            const v = get(rec);
            return v !== null && String(v) >= range.end;
          };
        case '>=':
          return (rec) => {
            const v = get(rec);
            return v !== null && String(v) >= range.start;
          };
        default:
          throw malformed(`operator ${op} is not supported with date literals by the emulator`);
      }
    }

    if (op === 'IN' || op === 'NOT IN') {
      const raws: string[] = Array.isArray(c.value) ? c.value : [c.value];
      const types: string[] = Array.isArray(c.literalType) ? c.literalType : raws.map(() => literalType);
      const vals = raws.map((r, i) => literalValue(r, types[i] ?? literalType, kind, path.field));
      const nonNull = vals.filter((v): v is string | number | boolean => v !== null);
      const hasNull = vals.length !== nonNull.length;
      const matches = (v: FieldValue): boolean => (v === null ? hasNull : nonNull.some((x) => compare(v, x, kind) === 0));
      return op === 'IN' ? (rec) => matches(get(rec)) : (rec) => !matches(get(rec));
    }
    if (Array.isArray(c.value)) throw malformed(`operator ${op} takes a single value`);
    if (op === 'INCLUDES' || op === 'EXCLUDES') throw malformed('INCLUDES/EXCLUDES are not supported by the emulator');

    if (op === 'LIKE') {
      if (kind !== 'text' && kind !== 'id') throw ApiError.of(400, 'INVALID_FIELD', `invalid operator on field '${path.field.name}': LIKE`);
      if (literalType !== 'STRING') throw malformed('LIKE needs a string pattern');
      const re = likeToRegex(unquote(c.value));
      return (rec) => {
        const v = get(rec);
        return v !== null && re.test(String(v));
      };
    }

    const lit = literalValue(c.value, literalType, kind, path.field);
    switch (op) {
      case '=':
        return lit === null ? (rec) => get(rec) === null : (rec) => {
          const v = get(rec);
          return v !== null && compare(v, lit, kind) === 0;
        };
      case '!=':
        return lit === null ? (rec) => get(rec) !== null : (rec) => {
          const v = get(rec);
          return v === null || compare(v, lit, kind) !== 0;
        };
      case '<':
      case '<=':
      case '>':
      case '>=': {
        if (lit === null) return () => false;
        const test = op === '<' ? (x: number) => x < 0 : op === '<=' ? (x: number) => x <= 0 : op === '>' ? (x: number) => x > 0 : (x: number) => x >= 0;
        return (rec) => {
          const v = get(rec);
          return v !== null && test(compare(v, lit, kind));
        };
      }
      default:
        throw malformed(`operator ${String(op)} is not supported by the emulator`);
    }
  }
}

function unknownObject(name: string): ApiError {
  return ApiError.of(
    400,
    'INVALID_TYPE',
    `sObject type '${name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
  );
}

/** Parses and compiles a SOQL statement; throws ApiError (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE ...). */
export function compileQuery(soql: string, store: Store, opts: QueryOptions): QueryPlan {
  let q: Query;
  try {
    q = parseQuery(soql);
  } catch (e) {
    throw malformed(`\n${soql}\n${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const obj = findSObject(q.sObject ?? '');
  if (!obj) throw unknownObject(q.sObject ?? '');
  return new Compiler(store, opts).compile(q, obj);
}
