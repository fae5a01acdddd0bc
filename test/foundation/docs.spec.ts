import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_KEYS } from '../../src/config';

const ROOT = path.resolve(__dirname, '../..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('README stays true', () => {
  it('documents every configuration variable the hub reads', () => {
    const missing = CONFIG_KEYS.filter((k) => !readme.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });

  it('shows the two commands a newcomer needs', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });

  it('links only to docs that exist', () => {
    const links = [...readme.matchAll(/\]\(((?:docs\/)[^)#]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(3);
    expect(links.filter((l) => !fs.existsSync(path.join(ROOT, l)))).toEqual([]);
  });
});
