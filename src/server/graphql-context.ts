import type { RequestContext } from '../common/context';
import type { Services } from './services';
import { createLoaders, type Loaders } from './loaders';

/** The GraphQL context: the request context plus services and per-request DataLoaders. */
export interface GraphQLContext extends RequestContext {
  services: Services;
  loaders: Loaders;
}

export function createGraphQLContext(base: RequestContext, services: Services): GraphQLContext {
  return { ...base, services, loaders: createLoaders(services) };
}
