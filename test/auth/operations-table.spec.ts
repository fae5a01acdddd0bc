import fs from 'node:fs';
import { buildHubSchema } from '../../src/server/schema';
import { operationsTable, OPERATIONS_TABLE_FILE } from '../../src/auth/operations-table';
import { Role } from '../../src/auth/role';

describe('docs/operations-by-role.md', () => {
  it('is the table the resolvers\' roles give (npm run schema:emit regenerates it)', async () => {
    expect(fs.readFileSync(OPERATIONS_TABLE_FILE, 'utf8')).toBe(operationsTable(await buildHubSchema()));
  });

  it('has one row per operation, with ADMIN allowed everywhere and the declared roles per row', async () => {
    const schema = await buildHubSchema();
    const rows = new Map(
      [...operationsTable(schema).matchAll(/^\| `(\w+)` \| (.+) \|[^|]*\|$/gm)].map((m) => [m[1]!, m[2]!.split(' | ')]),
    );
    const ops = [...Object.keys(schema.getQueryType()!.getFields()), ...Object.keys(schema.getMutationType()!.getFields())];
    expect([...rows.keys()].sort()).toEqual([...ops].sort());
    const roles = Object.values(Role);
    const allowed = (op: string) => roles.filter((_, i) => rows.get(op)![i] === '✓');
    for (const op of ops) expect(allowed(op)).toContain(Role.ADMIN);
    expect(allowed('createApiKey')).toEqual([Role.ADMIN]);
    expect(allowed('check')).toEqual(roles);
    expect(allowed('submitOrder')).toEqual([Role.ADMIN, Role.OPERATIONS, Role.INTEGRATION]);
  });
});
