import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { load } from './lazy';

export function registerOpenApiCommand(program: Command): void {
  program
    .command('openapi')
    .description('Write openapi.json (the plain-HTTP routes\' OpenAPI 3.1 document) from the routes\' schemas; with --check, fail if it is out of date.')
    .option('--check', 'compare instead of writing; exit 1 on a difference')
    .action(async (opts: { check?: boolean }) => {
      const { OPENAPI_FILE, openApiDiff, printOpenApi } = load.openApi();
      const text = printOpenApi(await load.openApiDocument().generateOpenApiDocument());
      const name = path.relative(process.cwd(), OPENAPI_FILE);
      if (opts.check) {
        const current = fs.existsSync(OPENAPI_FILE) ? fs.readFileSync(OPENAPI_FILE, 'utf8') : '';
        const diff = openApiDiff(current, text);
        if (diff) {
          console.error(`${diff}\n${name} is out of date with the routes: run \`npm run openapi:emit\` and commit it.`);
          process.exit(1);
        }
        console.log(`${name} is current.`);
      } else {
        fs.writeFileSync(OPENAPI_FILE, text);
        console.log(`Wrote ${name}`);
      }
    });
}
