import fs from 'node:fs';
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType, isScalarType, type GraphQLSchema } from 'graphql';
import { buildHubSchema, printSortedSchema, SCHEMA_FILE } from '../../src/server/schema';

const BUILT_IN = new Set(['String', 'Int', 'Float', 'Boolean', 'ID']);

/** Every type, field, argument and enum value a client sees carries a description. */
function undocumented(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || BUILT_IN.has(type.name)) continue;
    const isRoot = ['Query', 'Mutation', 'Subscription'].includes(type.name);
    if (!isRoot && !type.description?.trim()) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const f of Object.values(type.getFields())) {
        if (!f.description?.trim()) missing.push(`${type.name}.${f.name}`);
        for (const a of f.args) if (!a.description?.trim()) missing.push(`${type.name}.${f.name}(${a.name})`);
      }
    } else if (isInputObjectType(type)) {
      for (const f of Object.values(type.getFields())) if (!f.description?.trim()) missing.push(`${type.name}.${f.name}`);
    } else if (isEnumType(type)) {
      for (const v of type.getValues()) if (!v.description?.trim()) missing.push(`${type.name}.${v.name}`);
    } else if (isScalarType(type) && !type.description) {
      missing.push(type.name);
    }
  }
  return missing;
}

describe('schema.graphql', () => {
  it('is the schema the code builds (npm run schema:emit regenerates it)', async () => {
    const schema = await buildHubSchema();
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(printSortedSchema(schema));
  });

  it('documents every type, field, argument and enum value', async () => {
    expect(undocumented(await buildHubSchema())).toEqual([]);
  });
});
