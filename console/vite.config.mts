import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';

// The console is served by the hub at /console (src/server/console.ts). EHUB_CONSOLE_OUT_DIR
// lets the browser test build into a temporary folder.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [preact({ prerender: { enabled: false } })],
  // `npx vite --config console/vite.config.mts`: hot reload, GraphQL sent on to a hub on :4000.
  server: { proxy: { '/graphql': process.env.EHUB_HUB_URL ?? 'http://localhost:4000' } },
  build: {
    outDir: process.env.EHUB_CONSOLE_OUT_DIR ?? '../dist/console',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // Inline nothing: the hub's content security policy allows only same-origin files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 900,
  },
});
