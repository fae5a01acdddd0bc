/** One error as Salesforce reports it in REST bodies (`[{ message, errorCode, fields }]`). */
export interface SfError {
  errorCode: string;
  message: string;
  fields?: string[];
}

/** A failed request: the HTTP status and the error array sent back. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: SfError[],
  ) {
    super(errors.map((e) => `${e.errorCode}: ${e.message}`).join('; '));
  }

  static of(status: number, errorCode: string, message: string, fields?: string[]): ApiError {
    return new ApiError(status, [{ errorCode, message, ...(fields ? { fields } : {}) }]);
  }
}

/** Thrown by the data helpers when a write is rejected (carries the Salesforce error code). */
export class SalesforceEmulatorError extends Error {
  override readonly name = 'SalesforceEmulatorError';
  constructor(
    readonly errorCode: string,
    message: string,
    readonly fields: string[] = [],
  ) {
    super(`${errorCode}: ${message}`);
  }
}

export const NOT_FOUND_MESSAGE = 'The requested resource does not exist';
