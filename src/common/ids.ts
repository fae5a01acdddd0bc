const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a client-supplied id can be a row id. Services answer NOT_FOUND for anything else
 * instead of letting PostgreSQL fail on a malformed uuid.
 */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
