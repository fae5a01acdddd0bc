/** GraphQL resolvers of the usage domain. */
export const UsageResolvers: Function[] = [];
