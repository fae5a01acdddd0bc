import dns, { type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import net, { type Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';

/** `dns.lookup`'s shape: what the guard resolves names with (tests pass their own). */
export type LookupFn = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const defaultLookup: LookupFn = (hostname, options, callback) => dns.lookup(hostname, options, callback);

const stripBrackets = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

/** The range name ipaddr.js gives an address (`unicast` = public), IPv4-mapped IPv6 judged as IPv4. */
export function addressRange(ip: string): string {
  return ipaddr.process(ip).range();
}

/**
 * Where webhooks may go. By default only public unicast addresses: loopback, private
 * (RFC 1918, unique-local), link-local (and with it the cloud metadata service at
 * 169.254.169.254 / fd00:ec2::254), carrier-grade NAT, multicast, reserved and unspecified
 * addresses are refused, so a registered URL cannot make the hub reach into its own network
 * (SSRF). `EHUB_WEBHOOK_ALLOWED_HOSTS` lists the exceptions: CIDRs (the connected address
 * is in one) and host names (the URL's host is one, whatever it resolves to).
 */
export class EgressPolicy {
  private readonly cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  private readonly hosts = new Set<string>();

  constructor(allowList: string) {
    for (const raw of allowList.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
      const entry = stripBrackets(raw);
      if (entry.includes('/')) this.cidrs.push(ipaddr.parseCIDR(entry));
      else if (ipaddr.isValid(entry)) {
        const ip = ipaddr.process(entry);
        this.cidrs.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
      } else this.hosts.add(entry.replace(/\.$/, ''));
    }
  }

  /** Throws on an entry that is neither a CIDR, an address nor a host name (start-up fails clearly). */
  static validate(allowList: string): string | null {
    try {
      new EgressPolicy(allowList);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  hostAllowed(hostname: string): boolean {
    return this.hosts.has(stripBrackets(hostname).toLowerCase().replace(/\.$/, ''));
  }

  addressAllowed(ip: string): boolean {
    if (!ipaddr.isValid(ip)) return false;
    const addr = ipaddr.process(ip);
    if (addr.range() === 'unicast') return true;
    return this.cidrs.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
  }

  /**
   * Why a URL can never be delivered to, judged without DNS (at registration): a literal
   * address or `localhost` that the policy refuses. Null when it may be fine; the delivery
   * check on the connected address is the one that counts.
   */
  urlProblem(url: string): string | null {
    let host: string;
    try {
      host = stripBrackets(new URL(url).hostname).toLowerCase();
    } catch {
      return null; // the URL checks report it
    }
    if (this.hostAllowed(host)) return null;
    if (net.isIP(host) && !this.addressAllowed(host)) {
      return `points at a ${addressRange(host)} address (${host}); the hub does not deliver to internal addresses unless EHUB_WEBHOOK_ALLOWED_HOSTS lists them`;
    }
    if (host === 'localhost' || host.endsWith('.localhost')) {
      return `points at ${host} (loopback); the hub does not deliver to internal addresses unless EHUB_WEBHOOK_ALLOWED_HOSTS lists them`;
    }
    return null;
  }

  refusal(host: string, ip: string): Error {
    return Object.assign(
      new Error(`refused to connect to ${ip} (${ipaddr.isValid(ip) ? addressRange(ip) : 'unknown'} address${host !== ip ? ` of ${host}` : ''}); internal receivers must be listed in EHUB_WEBHOOK_ALLOWED_HOSTS`),
      { code: 'EHUB_EGRESS_REFUSED' },
    );
  }
}

/**
 * An undici Agent whose connections only reach addresses the policy allows. The name is
 * resolved by the guard's own lookup, which refuses the connection when any address it
 * returns is not allowed; the socket then connects to exactly what that lookup returned
 * (no second resolution, so DNS rebinding has nothing to race), and the address actually
 * connected to is checked again before a byte is sent. Literal IPs skip DNS and are
 * checked before connecting.
 */
export function guardedAgent(policy: EgressPolicy, opts: { connectTimeoutMs: number; lookup?: LookupFn }): Agent {
  const resolve = opts.lookup ?? defaultLookup;
  const lookup = (hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      if (!policy.hostAllowed(hostname)) {
        const bad = addresses.find((a) => !policy.addressAllowed(a.address));
        if (bad) return callback(policy.refusal(hostname, bad.address));
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  const connector = buildConnector({ timeout: opts.connectTimeoutMs, lookup } as buildConnector.BuildOptions);
  return new Agent({
    connect: (options, callback) => {
      const host = stripBrackets(options.hostname);
      const hostAllowed = policy.hostAllowed(host);
      if (!hostAllowed && net.isIP(host) && !policy.addressAllowed(host)) return callback(policy.refusal(host, host), null);
      connector(options, (err, socket) => {
        if (err) return callback(err, null);
        const remote = (socket as Socket).remoteAddress;
        if (!hostAllowed && (!remote || !policy.addressAllowed(remote))) {
          socket!.destroy();
          return callback(policy.refusal(host, remote ?? 'an unknown address'), null);
        }
        return callback(null, socket!);
      });
    },
  });
}
