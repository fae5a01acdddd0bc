import { Authorized, Field, ObjectType, Query, Resolver } from 'type-graphql';
import { Roles } from '../auth/role';
import { VERSION } from '../version';

@ObjectType({ description: 'Facts about the running hub.' })
export class HubInfo {
  @Field({ description: 'The hub version (package.json).' })
  version: string;

  @Field({ description: 'The current server time.' })
  serverTime: Date;
}

@Resolver()
export class HealthResolver {
  @Authorized(Roles.ANY)
  @Query(() => HubInfo, { description: 'The hub version and time: the cheapest authenticated query.' })
  hub(): HubInfo {
    return { version: VERSION, serverTime: new Date() };
  }
}
