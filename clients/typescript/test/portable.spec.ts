import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// The main entry must run in browsers: no Node built-ins, no Buffer, no process; only
// src/file-store.ts (its own entry point) may use node:fs.
describe('the client package is portable', () => {
  const dir = path.join(__dirname, '../src');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'file-store.ts');
  it.each(files)('%s imports nothing from Node and nothing outside the package', (file) => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    expect(text).not.toMatch(/from '(node:|fs|path|crypto|buffer)/);
    expect(text).not.toMatch(/\b(Buffer|process|require)\b[.(]/);
    for (const [, spec] of text.matchAll(/from '([^']+)'/g)) expect(spec).toMatch(/^\.\//);
  });
  it('declares no runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '../package.json'), 'utf8'));
    expect(pkg.dependencies ?? {}).toEqual({});
  });
});
