import type { AuthChecker } from 'type-graphql';
import { AppError } from '../common/errors';
import type { GraphQLContext } from '../server/graphql-context';
import type { Role } from './role';
import { Role as R } from './role';

/**
 * Every operation declares its roles with `@Authorized(...)`. No key → UNAUTHENTICATED;
 * a key whose role is not listed → FORBIDDEN. ADMIN passes every check.
 */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context, info }, roles) => {
  const principal = context.principal;
  if (!principal) {
    throw new AppError('UNAUTHENTICATED', 'AUTH_KEY_MISSING', 'Send an API key: Authorization: Bearer ehub_<prefix>_<secret>');
  }
  if (principal.role === R.ADMIN || roles.length === 0 || roles.includes(principal.role)) return true;
  throw new AppError(
    'FORBIDDEN',
    'AUTH_ROLE_NOT_ALLOWED',
    `A ${principal.role} key may not call ${info.parentType.name}.${info.fieldName} (allowed: ${roles.join(', ')})`,
  );
};
