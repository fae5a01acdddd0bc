import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { AppError } from '../common/errors';

const VALUE_ERRORS = [
  /Expected value of type/,
  /cannot represent/,
  /was not provided/,
  /is not defined by type/,
  /Expected type/,
  /got invalid value/,
  /must not be null/,
  /does not exist in ".*" enum/,
];

/** `Variable "$input" got invalid value "x" at "input.lines[2].at"; Expected type …` (graphql-js). */
const VARIABLE_VALUE_ERROR = /^Variable "\$\w+" got invalid value [\s\S]* at "([\w$.[\]]+)"; ([\s\S]+)$/;

/** The offending field of a variable that failed coercion, in the `input.lines.2.at` form services use. */
function variableFieldErrors(message: string): { fields: { path: string; message: string }[] } | Record<string, never> {
  const m = VARIABLE_VALUE_ERROR.exec(message);
  return m ? { fields: [{ path: m[1]!.replace(/\[(\d+)\]/g, '.$1'), message: m[2]! }] } : {};
}

/**
 * Shapes every error a client sees: `extensions.code` (generic) and `extensions.subCode`
 * (the domain case), plus `fields` for bad input. Internal errors carry no detail (they are
 * logged with the request id by the logging plugin); stack traces only in development.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, dev: boolean): GraphQLFormattedError {
  let original = unwrapResolverError(error);
  // Limits reported by validation rules (aliases, field duplication) arrive wrapped by Apollo.
  const wrapped = (original as { originalError?: unknown })?.originalError;
  if (!(original instanceof AppError) && wrapped instanceof AppError) original = wrapped;
  if (original instanceof AppError) {
    // `http` sets the response status (Apollo reads it); it is not for the client.
    const { http: _http, ...extensions } = original.extensions;
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { ...extensions, ...(dev && formatted.extensions?.stacktrace ? { stacktrace: formatted.extensions.stacktrace } : {}) },
    };
  }
  const code = formatted.extensions?.code as string | undefined;
  // Inline arguments of the wrong type or a missing required field fail GraphQL validation;
  // for the client it is bad input just as when sent through variables.
  if (code === 'GRAPHQL_VALIDATION_FAILED' && VALUE_ERRORS.some((r) => r.test(formatted.message))) {
    return { ...formatted, extensions: { ...formatted.extensions, code: 'BAD_USER_INPUT', subCode: 'INVALID_VALUE' } };
  }
  if (code === 'BAD_USER_INPUT') {
    return { ...formatted, extensions: { subCode: 'INVALID_VALUE', ...variableFieldErrors(formatted.message), ...formatted.extensions } };
  }
  const pgCode = (original as { driverError?: { code?: string } })?.driverError?.code ?? (original as { code?: string })?.code;
  if (pgCode === '23505') {
    // A unique index caught a race the service's own check could not see.
    return {
      message: 'The change conflicts with an existing record (unique constraint)',
      path: formatted.path,
      extensions: { code: 'CONFLICT', subCode: 'UNIQUE_VIOLATION' },
    };
  }
  if (pgCode === '57014') {
    // statement_timeout, set per transaction from the request's budget (Db.tx).
    return {
      message: 'A database statement ran past the request\'s time budget (EHUB_REQUEST_TIMEOUT_MS) and was cancelled; nothing was changed',
      path: formatted.path,
      extensions: { code: 'LIMIT_EXCEEDED', subCode: 'STATEMENT_TIMEOUT' },
    };
  }
  if (!code || code === 'INTERNAL_SERVER_ERROR') {
    return {
      message: 'Internal error; it was logged with the request id (x-request-id response header)',
      path: formatted.path,
      extensions: { code: 'INTERNAL', subCode: 'INTERNAL', ...(dev ? { stacktrace: formatted.extensions?.stacktrace } : {}) },
    };
  }
  return { ...formatted, extensions: { subCode: code, ...formatted.extensions } };
}

/** True when an error is unexpected (a bug or an outage) and deserves an error log line. */
export function isUnexpected(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) return original.code === 'INTERNAL';
  const pgCode = (original as { driverError?: { code?: string } })?.driverError?.code ?? (original as { code?: string })?.code;
  if (pgCode === '57014') return false;
  const code = (error as { extensions?: { code?: string } })?.extensions?.code;
  return !code || code === 'INTERNAL_SERVER_ERROR';
}
