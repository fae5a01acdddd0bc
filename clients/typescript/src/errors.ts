/** Errors of the licensing client. Every error carries a code; hub errors carry the hub's. */
export class EntitlementError extends Error {
  /** The hub's error code (e.g. NOT_FOUND, LIMIT_EXCEEDED, CONFLICT) or a client code. */
  readonly code: string;
  /** The hub's precise code (e.g. LEASE_EXPIRED, ENTITLEMENT_SEAT_LIMIT_EXCEEDED), when it gave one. */
  readonly subCode: string | undefined;
  /** The HTTP status, when there was an answer. */
  readonly status: number | undefined;
  constructor(message: string, code: string, subCode?: string, status?: number) {
    super(message);
    this.name = 'EntitlementError';
    this.code = code;
    this.subCode = subCode;
    this.status = status;
  }
}

/** The hub answered with an error (bad input, not found, conflict, forbidden...): not retried. */
export class HubError extends EntitlementError {
  constructor(message: string, code: string, subCode?: string, status?: number) {
    super(message, code, subCode, status);
    this.name = 'HubError';
  }
}

/** The hub could not be reached, or answered 5xx, after every retry (code HUB_UNREACHABLE). */
export class HubUnreachableError extends EntitlementError {
  constructor(message: string, status?: number) {
    super(message, 'HUB_UNREACHABLE', undefined, status);
    this.name = 'HubUnreachableError';
  }
}

/** Whether an error is worth retrying (network failure or 5xx). */
export const isRetryable = (err: unknown): boolean => err instanceof HubUnreachableError;
