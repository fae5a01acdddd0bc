import { Arg, Args, Authorized, Ctx, Field, InputType, Query, Resolver } from 'type-graphql';
import { ConnectionType, PageArgs, type Connection } from '../common/pagination';
import { Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { AuditLog } from './audit-log.entity';

@InputType({ description: 'Filters for the audit log; all optional, combined with AND.' })
export class AuditFilterInput {
  @Field(() => String, { nullable: true, description: 'Entity kind, e.g. `Product`.' })
  entity?: string | null;
  @Field(() => String, { nullable: true, description: 'Entity id.' })
  entityId?: string | null;
  @Field(() => String, { nullable: true, description: 'Mutation or CLI command name.' })
  operation?: string | null;
  @Field(() => String, { nullable: true, description: 'API key id.' })
  keyId?: string | null;
  @Field(() => String, { nullable: true, description: 'Request id.' })
  requestId?: string | null;
  @Field(() => Date, { nullable: true, description: 'Only records at or after this instant.' })
  since?: Date | null;
}

const AuditLogConnection = ConnectionType(AuditLog);

@Resolver(() => AuditLog)
export class AuditResolver {
  @Authorized(Roles.ADMIN)
  @Query(() => AuditLogConnection, { description: 'The audit log, oldest first. ADMIN.' })
  auditLog(
    @Arg('filter', () => AuditFilterInput, { nullable: true, description: 'Optional filters.' }) filter: AuditFilterInput | null,
    @Args() page: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<AuditLog>> {
    return ctx.services.audit.list(ctx, filter ?? {}, page);
  }
}
