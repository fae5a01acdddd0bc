import { execFile } from 'node:child_process';
import http from 'node:http';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { seedCertificateWorld, type CertificateWorld } from '../certificates/fixtures';
import { Delivery1764303400000 } from '../../migrations/1764303400000-Delivery';
import { DeviceUpdates1764303600000 } from '../../migrations/1764303600000-DeviceUpdates';
import { migrations } from '../../migrations';

/** The migrations after the one with this timestamp, in order (a down/up test reverts them first). */
const laterThan = (ts: number) =>
  migrations.filter((M) => Number(/(\d{13})$/.exec(M.name)![1]) > ts).map((M) => new M());
import { generatedBytes, get, MiB, put } from './delivery-support';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];

const UPSERT = `mutation ($i: UpsertReleaseInput!) { upsertRelease(input: $i) {
  id productSku version channel status releaseDate backdated publishedAt yankedAt requiredFeatures
  compatibility { platforms architectures deviceTypes minUpgradeFrom } notes artifacts { id name size sha256 sha512 signature kid } } }`;
const LINK = `mutation ($i: CreateDownloadLinkInput!) { createDownloadLink(input: $i) { id url expiresAt store artifact { id name size sha256 sha512 signature kid } } }`;

interface ReleaseOut {
  id: string;
  version: string;
  channel: string;
  status: string;
  releaseDate: string | null;
  backdated: boolean;
  publishedAt: string | null;
  requiredFeatures: string[];
  compatibility: { platforms: string[]; architectures: string[]; deviceTypes: string[]; minUpgradeFrom: string | null };
  artifacts: { id: string; name: string; size: number; sha256: string; sha512: string; signature: string; kid: string }[];
}
interface LinkOut {
  id: string;
  url: string;
  expiresAt: string;
  store: string;
  artifact: ReleaseOut['artifacts'][number];
}

let hub: TestHub;
let w: CertificateWorld;
let dir: string;
beforeAll(async () => {
  hub = await startTestHub();
  w = await seedCertificateWorld(hub);
  await hub.ok(`mutation ($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }`, {
    i: { sku: 'FW-X', name: 'Firmware X', kind: 'SOFTWARE', defaultModel: 'PERPETUAL', listPrice: { amountMinor: '100', currency: 'USD' }, features: [] },
  });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-delivery-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  await hub?.close();
});

const upsert = async (i: Record<string, unknown>, key?: string) => (await hub.ok<{ upsertRelease: ReleaseOut }>(UPSERT, { i }, key)).upsertRelease;
const link = async (i: Record<string, unknown>, key?: string) => (await hub.ok<{ createDownloadLink: LinkOut }>(LINK, { i }, key)).createDownloadLink;
const upload = (releaseId: string, name: string, body: Buffer | NodeJS.ReadableStream, key = hub.adminKey, query = '') =>
  put(`${hub.url}/v1/releases/${releaseId}/artifacts/${name}${query}`, body as Buffer, { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' });
const hubUrl = (url: string) => hub.url + new URL(url).pathname + new URL(url).search;
const downloads = async (linkId: string) =>
  (await hub.ds.query(`SELECT range_start, range_end, bytes FROM download_log WHERE link_id = $1 AND event = 'DOWNLOADED' ORDER BY at, range_start`, [linkId])) as {
    range_start: string;
    range_end: string;
    bytes: string;
  }[];
const sha = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

describe('releases', () => {
  it('upserts by product and version: draft, publish, backdate, channels newest-first, no way back to draft', async () => {
    const draft = await upsert({ product: 'CAD-SUB', version: 'v2.4.0', requiredFeatures: ['cad.render'], platforms: ['Linux', 'linux', 'Windows'], architectures: ['x86_64'], deviceTypes: ['gw-100'], minUpgradeFrom: '2.0.0', notes: 'Faster renders' });
    expect(draft).toMatchObject({
      version: '2.4.0',
      channel: 'STABLE',
      status: 'DRAFT',
      releaseDate: null,
      publishedAt: null,
      backdated: false,
      requiredFeatures: ['cad.render'],
      compatibility: { platforms: ['linux', 'windows'], architectures: ['x86_64'], deviceTypes: ['gw-100'], minUpgradeFrom: '2.0.0' },
    });
    const published = await upsert({ product: 'CAD-SUB', version: '2.4.0', status: 'PUBLISHED' });
    expect(published.id).toBe(draft.id);
    expect(published.status).toBe('PUBLISHED');
    expect(published.releaseDate).toBe(published.publishedAt);
    expect(published.requiredFeatures).toEqual(['cad.render']); // unchanged when omitted

    const backdated = await upsert({ product: 'CAD-SUB', version: '2.3.0', status: 'PUBLISHED', releaseDate: '2026-03-01T00:00:00.000Z' });
    expect(backdated).toMatchObject({ releaseDate: '2026-03-01T00:00:00.000Z', backdated: true });
    await upsert({ product: 'CAD-SUB', version: '2.10.0-rc.1', channel: 'RC', status: 'PUBLISHED' });
    await upsert({ product: 'CAD-SUB', version: '2.9.0-beta.2', channel: 'BETA', status: 'PUBLISHED' });
    await upsert({ product: 'CAD-SUB', version: '3.0.0-alpha.1', channel: 'ALPHA', status: 'PUBLISHED' });

    const versions = async (channel: string | null) =>
      (await hub.ok<{ releases: { version: string }[] }>(`query ($c: ReleaseChannel) { releases(product: "CAD-SUB", channel: $c) { version } }`, { c: channel })).releases.map((r) => r.version);
    expect(await versions('STABLE')).toEqual(['2.4.0', '2.3.0']);
    expect(await versions('RC')).toEqual(['2.10.0-rc.1', '2.4.0', '2.3.0']);
    expect(await versions('BETA')).toEqual(['2.10.0-rc.1', '2.9.0-beta.2', '2.4.0', '2.3.0']);
    expect(await versions(null)).toEqual(['3.0.0-alpha.1', '2.10.0-rc.1', '2.9.0-beta.2', '2.4.0', '2.3.0']);

    const back = await hub.gql(UPSERT, { i: { product: 'CAD-SUB', version: '2.4.0', status: 'DRAFT' } });
    expect(back.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', subCode: 'RELEASE_ALREADY_PUBLISHED' });
    const bad = await hub.gql(UPSERT, { i: { product: 'CAD-SUB', version: '2.4' } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'RELEASE_VERSION_INVALID' });
    const future = await hub.gql(UPSERT, { i: { product: 'CAD-SUB', version: '2.5.0', status: 'PUBLISHED', releaseDate: '2099-01-01T00:00:00.000Z' } });
    expect(future.errors?.[0]?.extensions).toMatchObject({ subCode: 'RELEASE_DATE_IN_FUTURE' });
    const minUp = await hub.gql(UPSERT, { i: { product: 'CAD-SUB', version: '2.5.0', minUpgradeFrom: '2.6.0' } });
    expect(minUp.errors?.[0]?.extensions).toMatchObject({ subCode: 'RELEASE_MIN_UPGRADE_INVALID' });
    const unknown = await hub.gql(UPSERT, { i: { product: 'NOPE', version: '1.0.0' } });
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });

    // An account-scoped key sees published releases of products its account holds, nothing else.
    const scoped = await hub.createKey(Role.READONLY, w.accountId);
    await upsert({ product: 'CAD-SUB', version: '2.6.0' }); // a draft
    const seen = await hub.ok<{ releases: { version: string }[] }>(`{ releases(product: "CAD-SUB") { version } }`, {}, scoped);
    expect(seen.releases.map((r) => r.version)).toEqual(['3.0.0-alpha.1', '2.10.0-rc.1', '2.9.0-beta.2', '2.4.0', '2.3.0']);
    await upsert({ product: 'FW-X', version: '1.0.0', status: 'PUBLISHED' });
    expect((await hub.ok<{ releases: unknown[] }>(`{ releases(product: "FW-X") { version } }`, {}, scoped)).releases).toEqual([]);
    const refusedWrite = await hub.gql(UPSERT, { i: { product: 'CAD-SUB', version: '9.0.0' } }, await hub.createKey(Role.OPERATIONS, w.accountId));
    expect(refusedWrite.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('artifacts and hub-served links (filesystem store)', () => {
  let release: ReleaseOut;
  let bytes: Buffer;
  beforeAll(async () => {
    release = await upsert({ product: 'CAD-NODE', version: '1.2.0', status: 'PUBLISHED' });
    bytes = Buffer.alloc(3 * MiB + 12345);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
  });

  it('stores, hashes and signs an upload; refuses bad names, unknown and yanked releases, duplicates, wrong keys — storing nothing', async () => {
    const ok = await upload(release.id, 'cad-node-1.2.0-linux-x86_64.tar.gz', bytes, hub.adminKey, '?platform=Linux&arch=x86_64');
    expect(ok.status).toBe(201);
    const art = JSON.parse(ok.body.toString()).artifact;
    expect(art).toMatchObject({ name: 'cad-node-1.2.0-linux-x86_64.tar.gz', size: bytes.length, sha256: sha('sha256', bytes), sha512: sha('sha512', bytes), platform: 'linux', arch: 'x86_64' });
    const jwks = (await (await fetch(`${hub.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(art.kid);

    const refuse = async (name: string, status: number, subCode: string, releaseId = release.id, key = hub.adminKey, type = 'application/octet-stream') => {
      const r = await put(`${hub.url}/v1/releases/${releaseId}/artifacts/${name}`, Buffer.from('payload'), { authorization: `Bearer ${key}`, 'content-type': type });
      const answer = JSON.parse(r.body.toString());
      expect({ name, status: r.status, subCode: answer.errors?.[0]?.extensions?.subCode ?? answer }).toEqual({ name, status, subCode });
    };
    await refuse('..%2Fetc%2Fpasswd', 400, 'ARTIFACT_NAME_INVALID');
    await refuse('a%2Fb.bin', 400, 'ARTIFACT_NAME_INVALID');
    await refuse('a%5Cb.bin', 400, 'ARTIFACT_NAME_INVALID');
    await refuse('evil%00.bin', 400, 'ARTIFACT_NAME_INVALID');
    await refuse('%2E%2E', 400, 'ARTIFACT_NAME_INVALID');
    await refuse('.hidden', 400, 'ARTIFACT_NAME_INVALID');
    await refuse('x.bin', 404, 'RELEASE_NOT_FOUND', '00000000-0000-4000-8000-000000000000');
    await refuse('x.bin', 404, 'RELEASE_NOT_FOUND', 'not-a-uuid');
    await refuse('cad-node-1.2.0-linux-x86_64.tar.gz', 409, 'ARTIFACT_EXISTS');
    await refuse('x.bin', 401, 'AUTH_HEADER_MALFORMED', release.id, '');
    await refuse('x.bin', 403, 'AUTH_ROLE_NOT_ALLOWED', release.id, await hub.createKey(Role.READONLY));
    await refuse('x.bin', 403, 'AUTH_ACCOUNT_SCOPED_KEY', release.id, await hub.createKey(Role.OPERATIONS, w.accountId));
    await refuse('x.bin', 415, 'ARTIFACT_OCTET_STREAM_REQUIRED', release.id, hub.adminKey, 'text/plain');
    const yanked = await upsert({ product: 'CAD-NODE', version: '1.1.0', status: 'YANKED', yankReason: 'bricks gw-100' });
    await refuse('x.bin', 409, 'RELEASE_YANKED', yanked.id);

    // Exactly one artifact row and one file: the refused uploads left nothing.
    const rows = await hub.ds.query(`SELECT count(*)::int AS n FROM release_artifact`);
    expect(rows[0].n).toBe(1);
    const store = path.join(hub.services.config.dataDir, 'artifacts');
    const files = (await fs.readdir(store, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.relative(store, path.join(d.parentPath, d.name)));
    expect(files).toEqual([`${release.id}/${art.id}/cad-node-1.2.0-linux-x86_64.tar.gz`]);
  });

  it('downloads with a signed link: whole, resumed by range, 416 past the end; each completed response logged, refused and aborted ones not', async () => {
    const artifactId = (await hub.ok<{ release: ReleaseOut }>(`query ($id: ID!) { release(id: $id) { artifacts { id } } }`, { id: release.id })).release.artifacts[0]!.id;
    const scoped = await hub.createKey(Role.INTEGRATION, w.accountId);
    const l = await link({ artifact: artifactId }, scoped);
    expect(l.store).toBe('fs');
    expect(l.url).not.toContain(scoped);
    expect(l.url).not.toContain('ehub_');
    expect(Date.parse(l.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    expect(Date.parse(l.expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);
    const url = hubUrl(l.url);

    const whole = await get(url);
    expect({ status: whole.status, size: whole.size, sha512: whole.sha512 }).toEqual({ status: 200, size: bytes.length, sha512: sha('sha512', bytes) });
    expect(whole.headers['accept-ranges']).toBe('bytes');

    // Interrupted after 1 MiB + 3 bytes, then resumed from there.
    const received: Buffer[] = [];
    const cut = MiB + 3;
    const first = await get(url, {}, { stopAfter: cut, onChunk: (c) => received.push(Buffer.from(c)) });
    expect(first.size).toBe(cut);
    const rest = await get(url, { range: `bytes=${cut}-` }, { onChunk: (c) => received.push(Buffer.from(c)) });
    expect(rest.status).toBe(206);
    expect(rest.headers['content-range']).toBe(`bytes ${cut}-${bytes.length - 1}/${bytes.length}`);
    expect(sha('sha256', Buffer.concat(received))).toBe(sha('sha256', bytes));

    const head = await fetch(url, { method: 'HEAD' });
    expect({ status: head.status, length: head.headers.get('content-length') }).toEqual({ status: 200, length: String(bytes.length) });
    const tail = await get(url, { range: 'bytes=-10' });
    expect({ status: tail.status, sha: tail.sha256 }).toEqual({ status: 206, sha: sha('sha256', bytes.subarray(bytes.length - 10)) });
    const beyond = await get(url, { range: `bytes=${bytes.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${bytes.length}`);
    expect(JSON.parse(beyond.text).errors[0].extensions.subCode).toBe('DOWNLOAD_RANGE_INVALID');

    // The link log: created by the scoped key for its account; downloads: whole, the resumed part, the tail.
    const created = await hub.ds.query(`SELECT account_id, api_key_id, device FROM download_log WHERE link_id = $1 AND event = 'LINK_CREATED'`, [l.id]);
    expect(created).toEqual([{ account_id: w.accountId, api_key_id: expect.any(String), device: null }]);
    await new Promise((r) => setTimeout(r, 200)); // the log row of the last response is written after it finished
    expect(await downloads(l.id)).toEqual([
      { range_start: '0', range_end: String(bytes.length - 1), bytes: String(bytes.length) },
      { range_start: String(cut), range_end: String(bytes.length - 1), bytes: String(bytes.length - cut) },
      { range_start: String(bytes.length - 10), range_end: String(bytes.length - 1), bytes: '10' },
    ]);
  });

  it('refuses expired, altered and other-artifact links, logging nothing', async () => {
    const other = JSON.parse((await upload(release.id, 'cad-node-1.2.0-arm64.tar.gz', Buffer.from('arm build'))).body.toString()).artifact;
    const artifactId = (await hub.ok<{ release: ReleaseOut }>(`query ($id: ID!) { release(id: $id) { artifacts { id name } } }`, { id: release.id })).release.artifacts.find((a) => a.name.includes('x86_64'))!.id;
    const l = await link({ artifact: artifactId, account: w.accountId, ttlSeconds: 60 });
    const u = new URL(hubUrl(l.url));
    const status = async (url: string) => {
      const r = await get(url);
      return { status: r.status, subCode: JSON.parse(r.text).errors[0].extensions.subCode as string };
    };
    // Altered: a signature character, the expiry (a longer life), the link id.
    const sig = u.searchParams.get('signature')!;
    const flipped = new URL(u);
    flipped.searchParams.set('signature', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    expect(await status(flipped.toString())).toEqual({ status: 403, subCode: 'DOWNLOAD_LINK_INVALID' });
    const longer = new URL(u);
    longer.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600));
    expect(await status(longer.toString())).toEqual({ status: 403, subCode: 'DOWNLOAD_LINK_INVALID' });
    const missing = new URL(u);
    missing.searchParams.delete('signature');
    expect(await status(missing.toString())).toEqual({ status: 400, subCode: 'DOWNLOAD_LINK_MALFORMED' });
    // The same link taken to another artifact.
    const moved = new URL(u);
    moved.pathname = u.pathname.replace(artifactId, other.id).replace('cad-node-1.2.0-linux-x86_64.tar.gz', other.name);
    expect(await status(moved.toString())).toEqual({ status: 403, subCode: 'DOWNLOAD_LINK_OTHER_ARTIFACT' });
    // Expired: a correctly signed link whose time is up (signed by the hub's own key, one second ago).
    const parts = u.pathname.split('/');
    const past = Math.floor(Date.now() / 1000) - 1;
    const expiredSig = await hub.services.delivery.links.sign({ linkId: parts[3]!, artifactId, expires: past });
    const expired = new URL(u);
    expired.searchParams.set('expires', String(past));
    expired.searchParams.set('signature', expiredSig);
    expect(await status(expired.toString())).toEqual({ status: 410, subCode: 'DOWNLOAD_LINK_EXPIRED' });
    expect(await downloads(l.id)).toEqual([]);

    // Links: beyond the maximum life, for a yanked release, for an account without the product, to another account.
    const tooLong = await hub.gql(LINK, { i: { artifact: artifactId, ttlSeconds: 86_401 } });
    expect(tooLong.errors?.[0]?.extensions).toMatchObject({ subCode: 'DOWNLOAD_LINK_TTL_INVALID' });
    const fw = await upsert({ product: 'FW-X', version: '2.0.0', status: 'PUBLISHED' });
    const fwArt = JSON.parse((await upload(fw.id, 'fw.bin', Buffer.from('fw'))).body.toString()).artifact;
    const notHeld = await hub.gql(LINK, { i: { artifact: fwArt.id, account: w.accountId } });
    expect(notHeld.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', subCode: 'RELEASE_NOT_ENTITLED' });
    const scopedOther = await hub.gql(LINK, { i: { artifact: artifactId, account: w.otherAccountId } }, await hub.createKey(Role.INTEGRATION, w.accountId));
    expect(scopedOther.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    const noDevice = await hub.gql(LINK, { i: { artifact: artifactId, account: w.accountId, deviceFingerprint: 'fp-none' } });
    expect(noDevice.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'DEVICE_NOT_FOUND' });
    await upsert({ product: 'FW-X', version: '2.0.0', status: 'YANKED' });
    const yanked = await hub.gql(LINK, { i: { artifact: fwArt.id } });
    expect(yanked.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', subCode: 'RELEASE_YANKED' });
  });

  it('ehub verify-artifact: a downloaded file verifies offline; one changed byte, a truncation or an altered .sig does not', async () => {
    const artifact = (await hub.ok<{ release: ReleaseOut }>(`query ($id: ID!) { release(id: $id) { artifacts { id name signature kid } } }`, { id: release.id })).release.artifacts.find((a) => a.name.includes('x86_64'))!;
    const l = await link({ artifact: artifact.id });
    const file = path.join(dir, artifact.name);
    const res = await fetch(hubUrl(l.url));
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    await fs.writeFile(`${file}.sig`, JSON.stringify({ signature: artifact.signature }));
    const jwksFile = path.join(dir, 'jwks.json');
    await fs.writeFile(jwksFile, await (await fetch(`${hub.url}/.well-known/jwks.json`)).text());
    const ehub = (...args: string[]) =>
      run(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', NODE_OPTIONS: '', LOG_LEVEL: 'warn' } });

    const { stdout } = await ehub('verify-artifact', file, '--jwks', jwksFile);
    expect(stdout).toContain('Artifact valid.');
    expect(stdout).toContain(`CAD-NODE 1.2.0 (stable)`);
    expect(stdout).toContain(sha('sha256', bytes));

    const tampered = path.join(dir, 'tampered.bin');
    const copy = Buffer.from(bytes);
    copy[2 * MiB] = copy[2 * MiB]! ^ 0x01;
    await fs.writeFile(tampered, copy);
    await expect(ehub('verify-artifact', tampered, '--sig', `${file}.sig`, '--jwks', jwksFile)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('Artifact NOT valid (DIGEST_MISMATCH)') });
    await fs.writeFile(tampered, bytes.subarray(0, bytes.length - 1));
    await expect(ehub('verify-artifact', tampered, '--sig', `${file}.sig`, '--jwks', jwksFile)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('(SIZE_MISMATCH)') });
    const [h, p, s] = artifact.signature.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.sha512 = sha('sha512', copy);
    claims.sha256 = sha('sha256', copy);
    await fs.writeFile(`${tampered}.sig`, `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`);
    await fs.writeFile(tampered, copy);
    await expect(ehub('verify-artifact', tampered, '--jwks', jwksFile)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('(BAD_SIGNATURE)') });
  }, 180_000);
});

describe('size limit', () => {
  it('an upload over EHUB_ARTIFACT_MAX_BYTES is refused with 413 and nothing is kept, whether it declares its length or not', async () => {
    const small = await startTestHub({ EHUB_ARTIFACT_MAX_BYTES: String(2 * MiB) });
    try {
      const r = (await small.ok<{ upsertRelease: { id: string } }>(`mutation ($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }`, {
        i: { product: (await small.ok<{ upsertProduct: { id: string } }>(`mutation { upsertProduct(input: { sku: "S", name: "S", kind: SOFTWARE, defaultModel: PERPETUAL, listPrice: { amountMinor: "1", currency: "USD" }, features: [] }) { id } }`)).upsertProduct.id, version: '1.0.0' },
      })).upsertRelease;
      const headers = { authorization: `Bearer ${small.adminKey}`, 'content-type': 'application/octet-stream' };
      const declared = await put(`${small.url}/v1/releases/${r.id}/artifacts/big.bin`, Buffer.alloc(2 * MiB + 1), headers);
      expect(declared.status).toBe(413);
      expect(JSON.parse(declared.body.toString()).errors[0].extensions.subCode).toBe('ARTIFACT_TOO_LARGE');
      // Chunked (no content-length): refused when the stream passes the limit.
      const gen = generatedBytes(3 * MiB);
      const chunked = await put(`${small.url}/v1/releases/${r.id}/artifacts/big.bin`, gen.stream, { ...headers, 'transfer-encoding': 'chunked' });
      expect(chunked.status).toBe(413);
      expect((await small.ds.query(`SELECT count(*)::int AS n FROM release_artifact`))[0].n).toBe(0);
      const store = path.join(small.services.config.dataDir, 'artifacts');
      const files = (await fs.readdir(store, { recursive: true, withFileTypes: true }).catch(() => [])).filter((d) => d.isFile());
      expect(files).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('interrupted upload', () => {
  it('a client that goes away mid-body leaves no artifact row and no file (not even in tmp/)', async () => {
    const r = await upsert({ product: 'FW-X', version: '3.0.0' });
    const before = (await hub.ds.query(`SELECT count(*)::int AS n FROM release_artifact`))[0].n;
    const u = new URL(`${hub.url}/v1/releases/${r.id}/artifacts/cut.bin`);
    await new Promise<void>((resolve) => {
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', headers: { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'application/octet-stream', 'content-length': String(8 * MiB) } },
        () => resolve(),
      );
      req.on('error', () => resolve());
      req.write(Buffer.alloc(2 * MiB, 1), () => setTimeout(() => req.destroy(), 300));
    });
    const tmp = path.join(hub.services.config.dataDir, 'artifacts', 'tmp');
    // The hub notices the closed connection asynchronously: wait (bounded) for the partial file to go.
    for (let i = 0; i < 50 && (await fs.readdir(tmp).catch(() => [])).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
    expect(await fs.readdir(tmp).catch(() => [])).toEqual([]);
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM release_artifact`))[0].n).toBe(before);
    expect(await fs.readdir(path.join(hub.services.config.dataDir, 'artifacts', r.id)).catch(() => [])).toEqual([]);
  });
});

describe('migration 1764303400000', () => {
  it('down drops the delivery tables, up creates them again', async () => {
    const tables = async (q: { query: (sql: string) => Promise<{ t: string }[]> }) =>
      (await q.query(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('release','release_artifact','download_log') ORDER BY 1`)).map((r) => r.t);
    const runner = hub.ds.createQueryRunner();
    try {
      await runner.startTransaction();
      // Reverted in order: every later migration first (some reference release), then this one.
      const later = laterThan(1764303400000);
      for (const m of [...later].reverse()) await m.down(runner);
      await new Delivery1764303400000().down(runner);
      expect(await tables(runner)).toEqual([]);
      await new Delivery1764303400000().up(runner);
      expect(await tables(runner)).toEqual(['download_log', 'release', 'release_artifact']);
      for (const m of later) await m.up(runner);
      await runner.rollbackTransaction();
    } finally {
      await runner.release();
    }
  });
});

describe('migration 1764303600000', () => {
  it('down drops device_update_report and the activation update columns, up adds them again', async () => {
    const state = async (q: { query: (sql: string) => Promise<{ t: string }[]> }) =>
      (await q.query(`SELECT table_name || '.' || column_name AS t FROM information_schema.columns WHERE table_schema = 'public'
         AND (table_name = 'device_update_report' AND column_name = 'status'
           OR table_name = 'activation' AND column_name IN ('update_token_hash','software_version','software_channel','architecture','device_type','update_polled_at'))
         ORDER BY 1`)).map((r) => r.t);
    const all = ['activation.architecture', 'activation.device_type', 'activation.software_channel', 'activation.software_version', 'activation.update_polled_at', 'activation.update_token_hash', 'device_update_report.status'];
    const runner = hub.ds.createQueryRunner();
    try {
      expect(await state(runner)).toEqual(all);
      await runner.startTransaction();
      const later = laterThan(1764303600000);
      for (const m of [...later].reverse()) await m.down(runner);
      await new DeviceUpdates1764303600000().down(runner);
      expect(await state(runner)).toEqual([]);
      await new DeviceUpdates1764303600000().up(runner);
      expect(await state(runner)).toEqual(all);
      for (const m of later) await m.up(runner);
      await runner.rollbackTransaction();
    } finally {
      await runner.release();
    }
  });
});
