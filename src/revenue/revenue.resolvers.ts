/** GraphQL resolvers of the revenue domain. */
export const RevenueResolvers: Function[] = [];
