/** GraphQL resolvers of usage analytics. */
export const AnalyticsResolvers: Function[] = [];
