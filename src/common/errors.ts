import { GraphQLError } from 'graphql';

/** The generic codes every client can switch on (`extensions.code`). */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'LIMIT_EXCEEDED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'INTERNAL';

/** One offending input field: a dotted path such as `input.lines.2.quantity`. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * The one error type services throw. `code` is generic, `subCode` names the domain case
 * (e.g. `CATALOG_BUNDLE_CYCLE`), `details` is extra machine-readable context.
 */
export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    readonly subCode: string,
    message: string,
    readonly details: Record<string, unknown> & { fields?: FieldError[] } = {},
  ) {
    super(message, { extensions: { code, subCode, ...details } });
    this.name = 'AppError';
  }
}

export const badInput = (subCode: string, message: string, fields?: FieldError[]) =>
  new AppError('BAD_USER_INPUT', subCode, message, fields ? { fields } : {});

export const notFound = (entity: string, id: string) =>
  new AppError('NOT_FOUND', `${entity.toUpperCase()}_NOT_FOUND`, `${entity} ${id} was not found`, { entity, id });

export const conflict = (subCode: string, message: string, details: Record<string, unknown> = {}) =>
  new AppError('CONFLICT', subCode, message, details);

export const forbidden = (subCode: string, message: string) => new AppError('FORBIDDEN', subCode, message);
