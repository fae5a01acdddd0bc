import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { buildHubSchema } from '../../src/server/schema';

/**
 * Walks every root operation of the schema: with no key each must answer UNAUTHENTICATED,
 * and every mutation must refuse a READONLY key. An operation that forgot its roles fails
 * here (and at start-up: assertEveryOperationAuthorized).
 */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const SCALARS: Record<string, unknown> = {
  ID: '00000000-0000-4000-8000-000000000000',
  String: 'x',
  Int: 1,
  Float: 1,
  Boolean: true,
  DateTimeISO: '2027-01-01T00:00:00.000Z',
  LocalDate: '2027-01-01',
  MinorAmount: '100',
  JSON: {},
  JSONObject: {},
};

function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type) && f.defaultValue === undefined) out[f.name] = sample(f.type);
    return out;
  }
  return SCALARS[type.name] ?? 'x';
}

function operation(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): { query: string; variables: Record<string, unknown> } {
  const required = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  const defs = required.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection = isObjectType(named) || isInterfaceType(named) || isUnionType(named) ? '{ __typename }' : '';
  const variables = Object.fromEntries(required.map((a) => [a.name, sample(a.type)]));
  return { query: `${kind}${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''} ${selection} }`, variables };
}

describe('every operation declares its roles', () => {
  it('no key → UNAUTHENTICATED, for every query and mutation', async () => {
    const schema = await buildHubSchema();
    const roots = [
      ['query', schema.getQueryType()!] as const,
      ['mutation', schema.getMutationType()!] as const,
    ];
    let checked = 0;
    for (const [kind, type] of roots) {
      for (const field of Object.values(type.getFields())) {
        const { query, variables } = operation(kind, field);
        const res = await hub.gql(query, variables, null);
        expect({ op: field.name, code: res.errors?.[0]?.extensions?.code }).toEqual({ op: field.name, code: 'UNAUTHENTICATED' });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('a READONLY key → FORBIDDEN on every mutation, and the audit log is unchanged', async () => {
    const schema = await buildHubSchema();
    const key = await hub.createKey(Role.READONLY);
    const [{ n: before }] = await hub.ds.query('SELECT count(*)::int AS n FROM audit_log');
    for (const field of Object.values(schema.getMutationType()!.getFields())) {
      const { query, variables } = operation('mutation', field);
      const res = await hub.gql(query, variables, key);
      expect({ op: field.name, code: res.errors?.[0]?.extensions?.code }).toEqual({ op: field.name, code: 'FORBIDDEN' });
    }
    const [{ n: after }] = await hub.ds.query('SELECT count(*)::int AS n FROM audit_log');
    expect(after).toBe(before);
  });
});
