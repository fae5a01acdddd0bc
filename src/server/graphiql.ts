import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * GraphiQL served from the installed packages (React 18 UMD + GraphiQL 3 UMD), so the page
 * works with no internet access. Assets are read once at start-up.
 */
const ASSETS: Record<string, { pkg: string; file: string; type: string }> = {
  'react.js': { pkg: 'react', file: 'umd/react.production.min.js', type: 'application/javascript' },
  'react-dom.js': { pkg: 'react-dom', file: 'umd/react-dom.production.min.js', type: 'application/javascript' },
  'graphiql.js': { pkg: 'graphiql', file: 'graphiql.min.js', type: 'application/javascript' },
  'graphiql.css': { pkg: 'graphiql', file: 'graphiql.min.css', type: 'text/css' },
};

/** The installed package's folder (its `exports` hide the UMD files from require.resolve). */
function packageDir(pkg: string): string {
  let dir = path.dirname(require.resolve(pkg));
  while (!fs.existsSync(path.join(dir, 'package.json')) || path.basename(dir) !== pkg) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot locate package ${pkg}`);
    dir = parent;
  }
  return dir;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>Entitlement Hub · GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1" />
<link rel="stylesheet" href="/graphiql/assets/graphiql.css" />
<style>body { margin: 0; height: 100vh; overflow: hidden; } #graphiql { height: 100vh; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/assets/react.js"></script>
<script src="/graphiql/assets/react-dom.js"></script>
<script src="/graphiql/assets/graphiql.js"></script>
<script>
  const fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  const defaultQuery = '# Entitlement Hub. Put your API key in the Headers tab below:\\n' +
    '#   { "Authorization": "Bearer ehub_..." }\\n# (npm start prints where the admin key is.)\\n\\n' +
    'query First {\\n  hub { version serverTime }\\n  products(first: 10) { totalCount edges { node { sku name kind listPrice { amountMinor currency } } } }\\n}\\n';
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery,
      headers: JSON.stringify({ Authorization: 'Bearer ' }, null, 2),
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: 'headers',
    }),
  );
</script>
</body>
</html>`;

export function registerGraphiQL(app: FastifyInstance): void {
  const loaded = new Map<string, { body: Buffer; type: string }>();
  for (const [name, a] of Object.entries(ASSETS)) {
    loaded.set(name, { body: fs.readFileSync(path.join(packageDir(a.pkg), a.file)), type: a.type });
  }
  app.get('/graphiql/assets/:name', (req, reply) => {
    const asset = loaded.get((req.params as { name: string }).name);
    if (!asset) return reply.code(404).send({ error: 'not found' });
    return reply.header('content-type', asset.type).header('cache-control', 'public, max-age=86400').send(asset.body);
  });
  app.get('/graphiql', (_req, reply) => reply.redirect('/graphql'));

}

export const GRAPHIQL_PAGE = PAGE;
