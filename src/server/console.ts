import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The web console (docs/console.md, ADR 0052): the single-page app `npm run build` builds with
 * Vite into dist/console, served here like GraphiQL, offline and same-origin only (the content
 * security policy in app.ts allows nothing else). Hashed assets are cached for a year
 * (immutable); index.html is answered for /console and every client route under it and is
 * never cached, so a new build is picked up on the next load. Without a build, /console
 * answers 503 with a page saying how to build it.
 */

const TYPES: Record<string, string> = {
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

const ASSET_NAME = /^[A-Za-z0-9._-]+$/;

/** dist/console beside the compiled code (dist/src/server), or the checkout's dist/console when run from source. */
export function defaultConsoleDir(): string {
  const root = path.resolve(__dirname, '..', '..');
  return path.basename(root) === 'dist' ? path.join(root, 'console') : path.join(root, 'dist', 'console');
}

const NOT_BUILT = (dir: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8" /><title>Entitlement Hub · console not built</title></head>
<body>
<main>
<h1>The console is not built</h1>
<p>The hub serves the web console from <code>${dir.replace(/[<>&]/g, '')}</code>, which has no build.
Run <code>npm run build</code> (or <code>npm start</code>, which builds first) and reload this page.</p>
<p>The API is up: <a href="/graphql">GraphiQL</a>.</p>
</main>
</body>
</html>`;

export function registerConsole(app: FastifyInstance, dir: string = defaultConsoleDir()): void {
  const assets = path.join(dir, 'assets');
  let index: Buffer | null = null;
  const readIndex = (): Buffer | null => {
    if (index) return index;
    try {
      index = fs.readFileSync(path.join(dir, 'index.html'));
    } catch {
      return null;
    }
    return index;
  };

  const page = (reply: FastifyReply) => {
    const html = readIndex();
    if (!html) {
      return reply.code(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT(dir));
    }
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  };

  app.get('/console/assets/:name', async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const type = TYPES[path.extname(name)];
    if (!ASSET_NAME.test(name) || !type) return reply.code(404).send({ error: 'not found' });
    let body: Buffer;
    try {
      body = await fs.promises.readFile(path.join(assets, name));
    } catch {
      return reply.code(404).send({ error: 'not found' });
    }
    // Vite names every asset by its content hash: a name never changes meaning.
    return reply.header('content-type', type).header('cache-control', 'public, max-age=31536000, immutable').send(body);
  });
  app.get('/console', (_req, reply) => page(reply));
  app.get('/console/', (_req, reply) => page(reply));
  app.get('/console/*', (_req, reply) => page(reply));
}
