import fs from 'node:fs';

/**
 * Preloaded into a CLI process by a test (`-r`, after @swc-node/register): at exit, writes the
 * files the process loaded with require (one per line) to EHUB_TEST_LOADED_MODULES.
 */
const out = process.env.EHUB_TEST_LOADED_MODULES;
if (out) process.on('exit', () => fs.writeFileSync(out, Object.keys(require.cache).join('\n')));
