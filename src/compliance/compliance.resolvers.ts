/** GraphQL resolvers of the compliance domain. */
export const ComplianceResolvers: Function[] = [];
