/**
 * Deep links from the hub to a record in the system it came from, so a customer success
 * user can jump from the 360 view to the CRM or ERP page. Pure: the connection's type and
 * options in, a URL or null out (null when the connection's base URL is unknown, or the
 * system has no page we know how to link for that object).
 */

/** What a link needs of a connection: its connector type and its (non-secret) options. */
export interface LinkBase {
  type: string;
  options: Record<string, unknown> | null;
}

function httpsOrigin(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  try {
    const u = new URL(value.trim());
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * The Salesforce org's base URL: the `instanceUrl` option, else `loginUrl` when it is a My
 * Domain (or any org-specific) URL. login.salesforce.com and test.salesforce.com are shared
 * login hosts, not an org, so they give no link.
 */
export function salesforceBase(options: Record<string, unknown> | null): string | null {
  const explicit = httpsOrigin(options?.instanceUrl);
  if (explicit) return explicit;
  const login = httpsOrigin(options?.loginUrl ?? 'https://login.salesforce.com');
  if (!login) return null;
  return /^https?:\/\/(login|test)\.salesforce\.com$/i.test(login) ? null : login;
}

/**
 * The NetSuite UI host of an account id: `1234567` → `https://1234567.app.netsuite.com`;
 * sandboxes (`1234567_SB1`) use a lowercase, hyphenated host (`1234567-sb1`).
 */
export function netsuiteBase(options: Record<string, unknown> | null): string | null {
  const id = options?.accountId;
  if (typeof id !== 'string' || !/^[A-Za-z0-9]+(_[A-Za-z0-9]+)?$/.test(id)) return null;
  return `https://${id.toLowerCase().replace('_', '-')}.app.netsuite.com`;
}

const SALESFORCE_ID = /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/;
const SALESFORCE_OBJECT = /^[A-Za-z][A-Za-z0-9_]*$/;
/** How the hub names a NetSuite customer record (the pull links accounts as `Account`). */
const NETSUITE_CUSTOMER = new Set(['account', 'customer']);

/**
 * The URL of record `externalId` of `object` in the system behind `base`, or null.
 * - Salesforce: `https://<instance>/lightning/r/<Object>/<Id>/view` (any object).
 * - NetSuite: `https://<accountId>.app.netsuite.com/app/common/entity/custjob.nl?id=<id>` for customers.
 */
export function recordUrl(base: LinkBase | null, object: string, externalId: string): string | null {
  if (!base) return null;
  if (base.type === 'salesforce') {
    const origin = salesforceBase(base.options);
    if (!origin || !SALESFORCE_OBJECT.test(object) || !SALESFORCE_ID.test(externalId)) return null;
    return `${origin}/lightning/r/${object}/${externalId}/view`;
  }
  if (base.type === 'netsuite') {
    const origin = netsuiteBase(base.options);
    if (!origin || !NETSUITE_CUSTOMER.has(object.toLowerCase()) || !/^\d+$/.test(externalId)) return null;
    return `${origin}/app/common/entity/custjob.nl?id=${externalId}`;
  }
  return null;
}
