/**
 * What an API key may do. ADMIN may do everything; each operation lists the others it allows.
 *
 * A plain enum, without type-graphql, for code that needs the values and not the schema (the
 * CLI's `keys` command, which should not load the GraphQL stack to start): ./role.ts registers
 * it as the GraphQL enum `Role` and re-exports it.
 */
export enum Role {
  ADMIN = 'ADMIN',
  OPERATIONS = 'OPERATIONS',
  FINANCE = 'FINANCE',
  ANALYST = 'ANALYST',
  INTEGRATION = 'INTEGRATION',
  READONLY = 'READONLY',
}
