import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { EgressPolicy, guardedAgent, type LookupFn } from './webhook.egress';

describe('EgressPolicy', () => {
  const policy = new EgressPolicy('');
  it.each([
    ['127.0.0.1', false],
    ['10.0.0.1', false],
    ['172.16.5.4', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false], // cloud metadata (link-local)
    ['100.100.100.200', false], // metadata of some clouds (carrier-grade NAT range)
    ['0.0.0.0', false],
    ['::1', false],
    ['::', false],
    ['fd00:ec2::254', false], // AWS metadata over IPv6 (unique-local)
    ['fe80::1', false],
    ['::ffff:127.0.0.1', false], // IPv4-mapped loopback
    ['::ffff:10.0.0.1', false],
    ['224.0.0.1', false],
    ['8.8.8.8', true],
    ['2606:4700:4700::1111', true],
  ])('%s allowed: %s', (ip, allowed) => {
    expect(policy.addressAllowed(ip)).toBe(allowed);
  });

  it('admits what the allow-list names: CIDRs, single addresses and host names', () => {
    const p = new EgressPolicy('10.1.0.0/16, 127.0.0.1, [::1], hooks.internal');
    expect(p.addressAllowed('10.1.200.3')).toBe(true);
    expect(p.addressAllowed('10.2.0.1')).toBe(false);
    expect(p.addressAllowed('127.0.0.1')).toBe(true);
    expect(p.addressAllowed('::ffff:127.0.0.1')).toBe(true);
    expect(p.addressAllowed('127.0.0.2')).toBe(false);
    expect(p.addressAllowed('::1')).toBe(true);
    expect(p.hostAllowed('HOOKS.internal.')).toBe(true);
    expect(p.urlProblem('http://hooks.internal/x')).toBeNull();
    expect(p.urlProblem('http://10.2.0.1/x')).toMatch(/private address/);
  });
});

describe('guardedAgent', () => {
  let server: http.Server;
  let port: number;
  let hits = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  // A name that resolves to loopback (what a rebinding DNS server answers on the second lookup).
  const rebinding: LookupFn = (_host, _opts, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);

  it('refuses a name whose resolved address is internal, and never connects', async () => {
    const agent = guardedAgent(new EgressPolicy(''), { connectTimeoutMs: 2000, lookup: rebinding });
    const err = await fetch(`http://rebind.example:${port}/`, { dispatcher: agent }).catch((e: Error & { cause?: Error }) => e);
    expect((err as Error & { cause?: Error }).cause?.message).toMatch(/refused to connect to 127\.0\.0\.1 \(loopback address of rebind\.example\)/);
    const literal = await fetch(`http://127.0.0.1:${port}/`, { dispatcher: agent }).catch((e: Error & { cause?: Error }) => e);
    expect((literal as Error & { cause?: Error }).cause?.message).toMatch(/refused to connect to 127\.0\.0\.1/);
    expect(hits).toBe(0);
    await agent.close();
  });

  it('connects when the allow-list admits the address', async () => {
    const agent = guardedAgent(new EgressPolicy('127.0.0.1/32'), { connectTimeoutMs: 2000, lookup: rebinding });
    const res = await fetch(`http://rebind.example:${port}/`, { dispatcher: agent });
    expect(await res.text()).toBe('ok');
    expect(hits).toBe(1);
    await agent.close();
  });
});
