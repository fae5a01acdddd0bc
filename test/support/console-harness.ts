import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startTestHub, type TestHub } from './test-hub';
import { scratchDir } from './scratch';

/**
 * What every console browser test needs (docs/console.md): the console built with Vite into a
 * temporary folder (jest runs from source, without `npm run build`), a real hub serving it through
 * EHUB_CONSOLE_DIR, and a headless Chromium (Debian's package, driven by playwright-core) that
 * refuses every request to another host. Screenshots go into docs/console/ with
 * EHUB_UPDATE_SCREENSHOTS=1 (how the docs' pictures are refreshed), else into a temporary folder,
 * so a plain `npm test` leaves the checkout clean.
 */

export const CHROMIUM = process.env.EHUB_CHROMIUM ?? '/usr/bin/chromium';
export const ROOT = path.resolve(__dirname, '..', '..');
export const SHOTS = process.env.EHUB_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'console') : scratchDir('ehub-console-shots-');

export interface ConsoleHarness {
  hub: TestHub;
  consoleDir: string;
  /** Requests to another host, refused. */
  refused: string[];
  /** The browser's complaints: content security policy refusals and script errors. */
  complaints: string[];
  /** Load-to-interactive per page, printed at close. */
  timings: Record<string, number>;
  newPage(): Promise<Page>;
  signIn(page: Page, key: string): Promise<void>;
  /** Navigates with the client router and measures until the page's data is on screen. */
  open(page: Page, linkName: string | RegExp, loaded: string): Promise<number>;
  /** A full load of a console URL (HTML, JS, the key check and the page's query) until its data is on screen. */
  load(page: Page, url: string, loaded: string): Promise<number>;
  /** Polls from the test (a page-side wait would need eval, which the console's CSP refuses). */
  until(cond: () => Promise<boolean>, what: string): Promise<void>;
  /** axe-core in the page: no serious or critical violation. */
  axe(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `vite build` of the console into `outDir`. Vite refuses a second build of the same project
 * while one runs ("Found another Vite build process"), and jest runs the console test files in
 * parallel (and other tests run `npm run build`): builds from these tests take turns through a
 * lock directory, and a build refused for another one running is tried again.
 */
async function buildConsole(outDir: string, alreadyBuilt: () => boolean = () => false): Promise<void> {
  const lock = path.join(os.tmpdir(), `ehub-console-build-${Buffer.from(ROOT).toString('hex').slice(-32)}.lock`);
  for (const end = Date.now() + 180_000; ; await sleep(200)) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock left by a killed run is stale after 3 minutes (a build takes seconds).
      if (Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 180_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > end) throw new Error(`waited 3 minutes for another console build (lock ${lock})`);
    }
  }
  try {
    if (alreadyBuilt()) return; // another test file built it while this one waited for the lock
    for (let attempt = 1; ; attempt++) {
      const built = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', 'console/vite.config.mts', '--logLevel', 'warn'], {
        cwd: ROOT,
        env: { ...process.env, EHUB_CONSOLE_OUT_DIR: outDir, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
        encoding: 'utf8',
      });
      if (built.status === 0) return;
      if (attempt < 60 && /Found another Vite build process/.test(`${built.stdout}${built.stderr}`)) {
        await sleep(2_000);
        continue;
      }
      throw new Error(`vite build failed:\n${built.stdout}\n${built.stderr}`);
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** A fingerprint of the console's sources (paths, sizes and contents) and its Vite config. */
function consoleSourceHash(): string {
  const hash = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) hash.update(path.relative(ROOT, p)).update('\0').update(fs.readFileSync(p)).update('\0');
    }
  };
  walk(path.join(ROOT, 'console'));
  hash.update(fs.readFileSync(path.join(ROOT, 'package-lock.json')));
  return hash.digest('hex').slice(0, 24);
}

/**
 * The console built once for these sources, shared by the test files (each used to build its
 * own: four Vite builds in turn): `<tmp>/ehub-console-<hash of the sources>`, complete once it
 * holds `.built`. The first file to need it builds it (the build lock keeps the others waiting);
 * the hub only reads it.
 */
async function sharedConsoleBuild(): Promise<string> {
  const dir = path.join(os.tmpdir(), `ehub-console-${consoleSourceHash()}`);
  const marker = path.join(dir, '.built');
  if (fs.existsSync(marker)) return dir;
  const partial = fs.mkdtempSync(`${dir}.partial-`);
  try {
    await buildConsole(partial, () => fs.existsSync(marker));
    if (fs.existsSync(marker)) return dir;
    fs.writeFileSync(path.join(partial, '.built'), new Date().toISOString());
    try {
      fs.renameSync(partial, dir);
    } catch (e) {
      // Another file's build got there first (ENOTEMPTY/EEXIST): use it.
      if (!fs.existsSync(marker)) throw e;
    }
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return dir;
}

export async function startConsoleHarness(env: Record<string, string> = {}): Promise<ConsoleHarness> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: the console's browser test needs it. Install it with \`apt-get install -y chromium\` (.ci/run does so when missing), or set EHUB_CHROMIUM.`);
  }
  const started = Date.now();
  const consoleDir = await sharedConsoleBuild();
  console.log(`console ready in ${Date.now() - started} ms in ${consoleDir}`);

  const hub = await startTestHub({ EHUB_CONSOLE_DIR: consoleDir, ...env });
  const refused: string[] = [];
  const complaints: string[] = [];
  const timings: Record<string, number> = {};
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    await hub.close();
    throw e;
  }
  const origin = new URL(hub.url).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    refused.push(url);
    return route.abort('blockedbyclient');
  });
  fs.mkdirSync(SHOTS, { recursive: true });
  const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  return {
    hub,
    consoleDir,
    refused,
    complaints,
    timings,
    async newPage() {
      const page = await context.newPage();
      page.on('pageerror', (e) => complaints.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) complaints.push(m.text());
      });
      return page;
    },
    async signIn(page, key) {
      await page.goto(`${hub.url}/console/`);
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
    },
    async open(page, linkName, loaded) {
      const t0 = Date.now();
      await page.getByRole('link', { name: linkName }).first().click();
      await page.locator(`[data-loaded="${loaded}"]`).waitFor({ timeout: 15_000 });
      return Date.now() - t0;
    },
    async load(page, url, loaded) {
      const t0 = Date.now();
      await page.goto(`${hub.url}${url}`);
      await page.locator(`[data-loaded="${loaded}"]`).waitFor({ timeout: 15_000 });
      return Date.now() - t0;
    },
    async until(cond, what) {
      for (const end = Date.now() + 15_000; !(await cond()); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      }
    },
    async axe(page, name) {
      // Evaluated through the devtools protocol: no inline script, the CSP stays as served.
      await page.evaluate(`${AXE}\n;undefined`);
      const violations = (await page.evaluate(
        `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))`,
      )) as { id: string; impact: string; help: string; nodes: string[] }[];
      const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      if (violations.length) console.log(`axe on ${name}: ${violations.map((v) => `${v.id} (${v.impact}) at ${v.nodes.join(' | ')}`).join(', ')}`);
      expect(bad).toEqual([]);
    },
    async close() {
      // Chromium can hang on shutdown (seen on CI, all tests passed): give it 15 s, then kill what
      // is left of this profile's processes, so the hub's close does not wait on its sockets.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([context.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 15_000)))]);
      clearTimeout(timer); // a pending 15 s timer would hold this jest worker open after its last file
      try {
        execFileSync('pkill', ['-KILL', '-f', profileDir]);
      } catch {
        // none left
      }
      await hub.close();
      fs.rmSync(profileDir, { recursive: true, force: true });
      if (Object.keys(timings).length) console.log(`console load-to-interactive (ms): ${JSON.stringify(timings)}`);
    },
  };
}
