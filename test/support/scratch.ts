import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A new folder under the system's temporary folder, removed once the test file is done
 * (call it at the top level of a test file or in a describe block, where afterAll is allowed).
 */
export function scratchDir(prefix: string, mode?: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (mode !== undefined) fs.chmodSync(dir, mode);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
