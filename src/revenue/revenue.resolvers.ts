import { RevenueResolver } from './revenue.resolver';

/** GraphQL resolvers of the revenue domain. */
export const RevenueResolvers: Function[] = [RevenueResolver];
