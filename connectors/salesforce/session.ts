import { Connection, OAuth2 } from 'jsforce/lib';
import type { HttpRequest, HttpResponse } from 'jsforce';
import type { TokenResponse } from 'jsforce/lib/oauth2';
import { ConnectorError, type ApiUsage, type ConnectorCallContext } from '../types';
import { grantParams } from './auth';
import { classifyError } from './errors';
import type { SalesforceCredentials, SalesforceOptions } from './options';
import { parseLimitInfo } from './http-errors';
import { ConnectorTransport } from './transport';
import { parseJsonKeepingDecimals } from './values';
import { untilAborted } from '../abort';


/**
 * One authenticated jsforce Connection plus the bookkeeping the contract asks for: request
 * counting, the last `Sforce-Limit-Info`, the budget guard, and a session refresh that
 * re-runs the grant once per refused session (a second 401 becomes AUTH).
 */
export class SalesforceSession {
  readonly conn: Connection;
  apiCalls = 0;
  apiUsage: ApiUsage | null = null;
  private apiUsageAt = 0;
  private readonly tokenUrl: string;
  /** Set when a refresh succeeded and no API answer other than 401 has come since. */
  private refreshUnconfirmed = false;
  /** The real error of the last failed refresh (jsforce re-wraps it in a plain Error). */
  private lastRefreshError: unknown;
  private authenticating: Promise<void> | null = null;
  private closed = false;

  constructor(
    readonly options: SalesforceOptions,
    private readonly credentials: SalesforceCredentials,
  ) {
    const transport = new ConnectorTransport({
      onRequest: () => {
        this.apiCalls++;
      },
      onResponse: (req, res) => this.observe(req, res),
      timeoutMs: options.requestTimeoutMs,
      rateLimitBackoffMs: options.rateLimitBackoffMs,
    });
    // JWT bearer sends only the assertion; the other grants authenticate the app with id + secret.
    const jwt = options.auth === 'jwt_bearer';
    const oauth2 = new OAuth2({
      loginUrl: options.loginUrl,
      clientId: jwt ? undefined : options.clientId,
      clientSecret: jwt ? undefined : credentials.clientSecret,
    });
    oauth2._transport = transport;
    this.tokenUrl = oauth2.tokenServiceUrl;
    this.conn = new Connection({
      loginUrl: options.loginUrl,
      version: options.apiVersion,
      oauth2,
      refreshFn: (_conn, callback) => {
        this.refresh().then(
          (res) => callback(null, res.access_token, res),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
      },
    });
    this.conn._transport = transport;
  }

  private observe(req: HttpRequest, res: HttpResponse): void {
    const usage = parseLimitInfo(res.headers['sforce-limit-info']);
    if (usage) {
      this.apiUsage = usage;
      this.apiUsageAt = Date.now();
    }
    if (req.url !== this.tokenUrl && res.statusCode !== 401) this.refreshUnconfirmed = false;
  }

  /** jsforce's refreshFn: re-run the grant, unless the session it gave last time was refused too. */
  private async refresh(): Promise<TokenResponse> {
    if (this.refreshUnconfirmed) {
      this.refreshUnconfirmed = false;
      const err = new ConnectorError('AUTH', 'INVALID_SESSION_ID', 'Salesforce refused the session again right after re-authenticating');
      this.lastRefreshError = err;
      throw err;
    }
    try {
      const res = await this.grant();
      this.refreshUnconfirmed = true;
      return res;
    } catch (err) {
      this.lastRefreshError = err;
      throw err;
    }
  }

  /** Runs the configured grant and establishes the session (instance URL and token). */
  private async grant(): Promise<TokenResponse> {
    const res = await this.conn.oauth2.requestToken(grantParams(this.options, this.credentials));
    if (!res || typeof res.access_token !== 'string' || typeof res.instance_url !== 'string') {
      throw new ConnectorError('AUTH', 'INVALID_TOKEN_RESPONSE', 'The token endpoint answered without access_token/instance_url');
    }
    const [organizationId = '', id = ''] = typeof res.id === 'string' ? res.id.split('/').slice(-2) : [];
    this.conn._establish({
      instanceUrl: res.instance_url.replace(/\/+$/, ''),
      accessToken: res.access_token,
      userInfo: { id, organizationId, url: typeof res.id === 'string' ? res.id : '' },
    });
    return res;
  }

  /** Authenticates when there is no session yet (one grant for concurrent callers). */
  async ensureSession(): Promise<void> {
    if (this.conn.accessToken) return;
    this.authenticating ??= this.grant()
      .then(() => undefined)
      .finally(() => {
        this.authenticating = null;
      });
    await this.authenticating;
  }

  /** Runs a Salesforce call with a session, mapping whatever it throws to a ConnectorError. */
  async call<T>(ctx: ConnectorCallContext, fn: () => Promise<T>): Promise<T> {
    this.checkUsable(ctx);
    try {
      await this.ensureSession();
      return await fn();
    } catch (err) {
      const e = classifyError(err, this.lastRefreshError);
      this.lastRefreshError = undefined;
      throw e;
    }
  }

  /**
   * GET a REST resource; decimal fields keep the exact text Salesforce sent. A read is
   * abandoned as soon as the caller's signal aborts (the hub is stopping): it wrote nothing, so
   * nothing is lost, and a Salesforce that hangs does not hold a shutdown for the request
   * timeout. (Writes are waited for: their outcome must be known.)
   */
  async getJson<T>(ctx: ConnectorCallContext, url: string, headers: Record<string, string> = {}): Promise<T> {
    const text = await this.call(ctx, () =>
      untilAborted(this.conn.request<string>({ method: 'GET', url, headers }, { responseType: 'text/plain' }), ctx.signal, 'Salesforce read abandoned: the call was aborted (the hub is stopping)'),
    );
    return parseJsonKeepingDecimals(text) as T;
  }

  /** `/services/data/vNN.N` */
  get basePath(): string {
    return `/services/data/v${this.options.apiVersion}`;
  }

  /**
   * Throws RATE_LIMITED when the last `Sforce-Limit-Info` says the org has used
   * maxApiUsagePercent of its daily API budget. A reading older than the back-off is stale
   * (the budget is a rolling 24 hours), so one call goes through to take a fresh one.
   */
  guardBudget(): void {
    const u = this.apiUsage;
    if (!u || u.limit <= 0) return;
    if (Date.now() - this.apiUsageAt >= this.options.rateLimitBackoffMs) return;
    const pct = (u.used / u.limit) * 100;
    if (pct >= this.options.maxApiUsagePercent) {
      throw new ConnectorError(
        'RATE_LIMITED',
        'API_USAGE_THRESHOLD',
        `Salesforce API usage ${u.used}/${u.limit} (${pct.toFixed(1)}%) reached the connector's limit of ${this.options.maxApiUsagePercent}%`,
        this.options.rateLimitBackoffMs,
      );
    }
  }

  checkUsable(ctx: ConnectorCallContext): void {
    if (this.closed) throw new ConnectorError('INVALID', 'CLOSED', 'The Salesforce connector was closed');
    if (ctx.signal?.aborted) throw new ConnectorError('UNAVAILABLE', 'ABORTED', 'The call was aborted');
  }

  close(): void {
    this.closed = true;
  }
}
