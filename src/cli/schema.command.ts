import fs from 'node:fs';
import type { Command } from 'commander';
import { buildHubSchema, printSortedSchema, SCHEMA_FILE } from '../server/schema';

export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description('Write schema.graphql from the code (sorted); with --check, fail if the file is out of date.')
    .option('--check', 'compare instead of writing; exit 1 on a difference')
    .action(async (opts: { check?: boolean }) => {
      const printed = printSortedSchema(await buildHubSchema());
      const current = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
      if (opts.check) {
        if (current !== printed) {
          console.error('schema.graphql is out of date with the code: run `npm run schema:emit` and commit it.');
          process.exit(1);
        }
        console.log('schema.graphql is current.');
        return;
      }
      fs.writeFileSync(SCHEMA_FILE, printed);
      console.log(`Wrote ${SCHEMA_FILE}`);
    });
}
