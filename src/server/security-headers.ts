import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's response headers, computed once. @fastify/helmet built Helmet's middleware again on
 * every request (every directive of the policy parsed and formatted each time: about a tenth
 * of the event loop on the `POST /v1/check` hot path, ADR 0054); the policy here is static, so
 * Helmet runs once against a recording response and each request gets the same headers.
 * Helmet stays the authority on which headers and values; a policy with per-request parts
 * (nonces, functions) is refused rather than silently frozen.
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      if (typeof value !== 'string') throw new Error(`security headers: ${name} is not a plain string`);
      headers[name.toLowerCase()] = value;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown = null;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) failure = err;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  const directives = (options.contentSecurityPolicy as { directives?: Record<string, unknown> } | undefined)?.directives ?? {};
  for (const [name, value] of Object.entries(directives)) {
    if (typeof value === 'function' || (Array.isArray(value) && value.some((v) => typeof v === 'function'))) {
      throw new Error(`security headers: the ${name} directive is computed per request; it cannot be sent as a fixed header`);
    }
  }
  return headers;
}
