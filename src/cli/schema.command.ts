import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { load } from './lazy';

export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description('Write schema.graphql and docs/operations-by-role.md from the code; with --check, fail if either is out of date.')
    .option('--check', 'compare instead of writing; exit 1 on a difference')
    .action(async (opts: { check?: boolean }) => {
      const { buildHubSchema, printSortedSchema, SCHEMA_FILE } = load.schema();
      const { operationsTable, OPERATIONS_TABLE_FILE } = load.operationsTable();
      const schema = await buildHubSchema();
      const files = [
        { file: SCHEMA_FILE, text: printSortedSchema(schema) },
        { file: OPERATIONS_TABLE_FILE, text: operationsTable(schema) },
      ];
      for (const { file, text } of files) {
        const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
        const name = path.relative(process.cwd(), file);
        if (opts.check) {
          if (current !== text) {
            console.error(`${name} is out of date with the code: run \`npm run schema:emit\` and commit it.`);
            process.exit(1);
          }
          console.log(`${name} is current.`);
        } else {
          fs.writeFileSync(file, text);
          console.log(`Wrote ${name}`);
        }
      }
    });
}
