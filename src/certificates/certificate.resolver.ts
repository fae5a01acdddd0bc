import { Args, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { Certificate, IssueCertificateArgs } from './certificate.types';

@Resolver(() => Certificate)
export class CertificateResolver {
  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Certificate, {
    description:
      'Issues a signed entitlement certificate for an account (its usable entitlements) or one entitlement, optionally bound to an activated device. Verify it offline with `GET /.well-known/jwks.json`. ADMIN, OPERATIONS, INTEGRATION.',
  })
  issueCertificate(@Args() args: IssueCertificateArgs, @Ctx() ctx: GraphQLContext): Promise<Certificate> {
    return ctx.services.certificates.issue(ctx, args);
  }
}
