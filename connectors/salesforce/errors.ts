import { ConnectorError } from '../types';
import { OAUTH_AUTH_ERRORS } from './auth';
import { describeErrorBody, networkError } from './http-errors';

/**
 * Per-record status codes that a later attempt of the same item can succeed with: locks and
 * load go away. DUPLICATE_VALUE is here on purpose: with an upsert by a unique external id it
 * almost always means two writers created the same key at once, and the retry then matches the
 * record that won and updates it. (A clash on some other unique field repeats until the engine's
 * attempt limit dead-letters the item.)
 */
const RETRYABLE_RECORD_CODES = new Set([
  'UNABLE_TO_LOCK_ROW',
  'DUPLICATE_VALUE',
  'SERVER_UNAVAILABLE',
  'REQUEST_LIMIT_EXCEEDED',
  'UNKNOWN_EXCEPTION',
  'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  'PROCESSING_HALTED',
  'NOT_PROCESSED',
  'TOO_MANY_ENUM_VALUE',
  'TOO_MANY_APEX_REQUESTS',
  'CONCURRENT_REQUEST_LIMIT_EXCEEDED',
]);

/**
 * Whether a per-record failure may succeed later unchanged. Anything not known to be transient
 * (INVALID_FIELD, MALFORMED_ID, ENTITY_IS_DELETED, INVALID_CROSS_REFERENCE_KEY, INVALID_TYPE,
 * FIELD_CUSTOM_VALIDATION_EXCEPTION, STRING_TOO_LONG, REQUIRED_FIELD_MISSING, ...) is a data or
 * configuration problem a resend cannot fix. A trigger failure is transient only when it wraps
 * a row lock.
 */
export function isRetryableRecordError(code: string, message: string): boolean {
  if (RETRYABLE_RECORD_CODES.has(code)) return true;
  if (code === 'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY') return /UNABLE_TO_LOCK_ROW/.test(message);
  return false;
}

/** Whole-call codes that mean the session or the integration user is refused. */
const AUTH_CODES = new Set([
  'INVALID_SESSION_ID',
  'INVALID_AUTH_HEADER',
  'INVALID_LOGIN',
  'LOGIN_MUST_USE_SECURITY_TOKEN',
  'API_DISABLED_FOR_ORG',
  'API_CURRENTLY_DISABLED',
  'INVALID_OPERATION_WITH_EXPIRED_PASSWORD',
]);

/** The message jsforce's SessionRefreshDelegate wraps a failed refresh in. */
const REFRESH_FAILED = /^Unable to refresh session due to: /;

/**
 * Turns whatever a jsforce call threw into a ConnectorError. `refreshError` is the original
 * error of the last failed session refresh, which jsforce re-wraps in a plain Error.
 */
export function classifyError(err: unknown, refreshError?: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (!(err instanceof Error)) return new ConnectorError('INVALID', 'UNEXPECTED', String(err));
  if (REFRESH_FAILED.test(err.message)) {
    if (refreshError && refreshError !== err) return classifyError(refreshError);
    return new ConnectorError('AUTH', 'INVALID_SESSION_ID', err.message);
  }
  // jsforce's OAuth2 throws errors named after the OAuth `error` field
  if (OAUTH_AUTH_ERRORS.has(err.name)) return new ConnectorError('AUTH', err.name, `Salesforce refused the credentials: ${err.name}: ${err.message}`);
  const errorCode = (err as { errorCode?: unknown }).errorCode;
  if (typeof errorCode === 'string') {
    let code = errorCode;
    let message = err.message;
    const http = /^ERROR_HTTP_(\d+)$/.exec(code);
    if (http) {
      // a response read as text (numbers kept exact): dig the code out of the body
      const d = describeErrorBody(message);
      code = d.code ?? `HTTP_${http[1]}`;
      message = d.message;
      if (http[1] === '401' && !d.code) code = 'INVALID_SESSION_ID';
    }
    if (AUTH_CODES.has(code)) return new ConnectorError('AUTH', code, `Salesforce refused the session: ${message}`);
    if (code === 'REQUEST_LIMIT_EXCEEDED') return new ConnectorError('RATE_LIMITED', code, message);
    if (code === 'SERVER_UNAVAILABLE' || code === 'UNABLE_TO_LOCK_ROW') return new ConnectorError('UNAVAILABLE', code, message);
    return new ConnectorError('INVALID', code, `Salesforce rejected the request: ${code}: ${message}`);
  }
  if (err instanceof TypeError && /fetch failed/.test(err.message)) return networkError(err);
  if (err.name === 'AbortError') return networkError(err);
  return new ConnectorError('INVALID', 'UNEXPECTED', err.message);
}
