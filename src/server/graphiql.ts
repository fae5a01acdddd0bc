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

/**
 * No inline script or style (the content security policy allows only same-origin ones):
 * the page's own script and style are assets too. Without a key stored, the first screen
 * asks for one and says where the first start put it, instead of GraphiQL failing to load
 * the schema (introspection needs a key outside development).
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>Entitlement Hub · GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1" />
<link rel="stylesheet" href="/graphiql/assets/graphiql.css" />
<link rel="stylesheet" href="/graphiql/assets/page.css" />
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<form id="ehub-key" hidden>
  <h1>Entitlement Hub</h1>
  <p>GraphiQL needs an API key (every request to the hub does).</p>
  <p>The first <code>npm start</code> wrote an admin key into <code>.ehub/admin.key</code>
  (<code>EHUB_DATA_DIR/admin.key</code>; the log line "an admin key was generated" gives the path).
  Other keys: <code>npx ehub keys create --name me --role analyst</code>.</p>
  <label>API key <input id="ehub-key-input" name="key" autocomplete="off" placeholder="ehub_…" size="60" required /></label>
  <button type="submit">Open GraphiQL</button>
  <p id="ehub-key-error" role="alert"></p>
</form>
<script src="/graphiql/assets/react.js"></script>
<script src="/graphiql/assets/react-dom.js"></script>
<script src="/graphiql/assets/graphiql.js"></script>
<script src="/graphiql/assets/start.js"></script>
</body>
</html>`;

const PAGE_CSS = `body { margin: 0; height: 100vh; overflow: hidden; font-family: system-ui, sans-serif; }
#graphiql { height: 100vh; }
#ehub-key { max-width: 44rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5; }
#ehub-key input { font-family: monospace; padding: 0.3rem; }
#ehub-key button { margin-left: 0.5rem; padding: 0.3rem 0.8rem; }
#ehub-key-error { color: #b00020; }
`;

const START_JS = `(function () {
  var STORE = 'ehub:apiKey';
  var root = document.getElementById('graphiql');
  var form = document.getElementById('ehub-key');
  var defaultQuery = '# Entitlement Hub. Your API key is in the Headers tab below.\\n\\n' +
    'query First {\\n  hub { version serverTime }\\n  products(first: 10) { totalCount edges { node { sku name kind listPrice { amountMinor currency } } } }\\n}\\n';
  // The web console's "open this query" links carry the operation in the hash (#query=…&variables=…).
  var linked = new URLSearchParams(location.hash.slice(1));
  function askForKey(message) {
    root.hidden = true;
    form.hidden = false;
    document.getElementById('ehub-key-error').textContent = message || '';
    document.getElementById('ehub-key-input').focus();
  }
  function open(key) {
    var headers = { Authorization: 'Bearer ' + key };
    // A schema request refused for the key: back to the key screen with the server's words.
    fetch('/graphql', { method: 'POST', headers: Object.assign({ 'content-type': 'application/json' }, headers),
      body: JSON.stringify({ query: '{ __typename }' }) })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        var e = body && body.errors && body.errors[0];
        if (e && e.extensions && e.extensions.code === 'UNAUTHENTICATED') {
          localStorage.removeItem(STORE);
          return askForKey(e.message);
        }
        form.hidden = true;
        root.hidden = false;
        ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
          fetcher: GraphiQL.createFetcher({ url: '/graphql' }),
          defaultQuery: defaultQuery,
          query: linked.get('query') || undefined,
          variables: linked.get('variables') || undefined,
          headers: JSON.stringify(headers, null, 2),
          shouldPersistHeaders: false,
          defaultEditorToolsVisibility: 'headers',
        }));
      }, function (err) { askForKey('The hub did not answer: ' + err); });
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var key = document.getElementById('ehub-key-input').value.trim().replace(/^Bearer\\s+/i, '');
    localStorage.setItem(STORE, key);
    open(key);
  });
  var stored = localStorage.getItem(STORE);
  if (stored) open(stored); else askForKey();
})();
`;

export function registerGraphiQL(app: FastifyInstance): void {
  const loaded = new Map<string, { body: Buffer; type: string }>();
  for (const [name, a] of Object.entries(ASSETS)) {
    loaded.set(name, { body: fs.readFileSync(path.join(packageDir(a.pkg), a.file)), type: a.type });
  }
  loaded.set('page.css', { body: Buffer.from(PAGE_CSS), type: 'text/css' });
  loaded.set('start.js', { body: Buffer.from(START_JS), type: 'application/javascript' });
  app.get('/graphiql/assets/:name', (req, reply) => {
    const asset = loaded.get((req.params as { name: string }).name);
    if (!asset) return reply.code(404).send({ error: 'not found' });
    return reply.header('content-type', asset.type).header('cache-control', 'public, max-age=86400').send(asset.body);
  });
  app.get('/graphiql', (_req, reply) => reply.redirect('/graphql'));

}

export const GRAPHIQL_PAGE = PAGE;
