import type { Logger } from 'pino';
import type { Role } from '../auth/role';

/** Who is calling: the API key behind the request (null when no key was sent). */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** Set for account-scoped keys: they see only this account's data. */
  accountId: string | null;
}

/**
 * What every service method receives first (Vendure's RequestContext idea): who calls,
 * the request id for logs and audit, and the operation being run.
 */
export interface RequestContext {
  requestId: string;
  log: Logger;
  principal: Principal | null;
  /** The GraphQL root field (or CLI command) being run; written into the audit log. */
  operation: string;
  /** Audit rows written for the current operation (the audit middleware reads this). */
  auditWrites: number;
  /**
   * When the request's time budget ends (epoch ms; EHUB_REQUEST_TIMEOUT_MS): transactions
   * get what is left of it as their statement_timeout. Unset for jobs and the CLI.
   */
  deadline?: number;
  /**
   * Aborts when the server starts to stop (SIGTERM): long work started by a request (a sync
   * run) abandons its reads so the request can answer and the shutdown go on. Unset: never.
   */
  stopping?: AbortSignal;
}

export function systemContext(log: Logger, operation: string, requestId = `sys-${Date.now().toString(36)}`): RequestContext {
  return { requestId, log, principal: null, operation, auditWrites: 0 };
}
