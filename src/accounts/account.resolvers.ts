import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Connection } from '../common/pagination';
import { Roles } from '../auth/role';
import type { GraphQLContext } from '../server/graphql-context';
import { Account, AccountStatus } from './account.entity';
import {
  AccountConnection,
  AccountListArgs,
  ContactConnection,
  ContactListArgs,
  ExternalRefArgs,
  UpsertAccountInput,
  UpsertContactInput,
} from './account.types';
import { Contact } from './contact.entity';
import { ExternalRef } from './external-ref.entity';

@Resolver(() => Account)
export class AccountResolver {
  @Authorized(Roles.ANY)
  @Query(() => AccountConnection, { description: 'Accounts, oldest first; an account-scoped key sees only its account.' })
  accounts(@Args() args: AccountListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Account>> {
    return ctx.services.accounts.list(ctx, args);
  }

  @Authorized(Roles.ANY)
  @Query(() => Account, { nullable: true, description: 'One account by id; NOT_FOUND when it does not exist (or is out of the key\'s scope).' })
  account(@Arg('id', () => ID, { description: 'The account id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return ctx.services.accounts.get(ctx, id);
  }

  @Authorized(Roles.ANY)
  @Query(() => Account, {
    nullable: true,
    description: 'The account an external reference is linked to, e.g. (`salesforce`, `Account`, `001...`); NOT_FOUND when none.',
  })
  accountByExternalRef(@Args() ref: ExternalRefArgs, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return ctx.services.accounts.byExternalRef(ctx, ref);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Account, {
    description:
      'Creates or updates an account and links its external references; sending the same input again changes nothing. ' +
      'CONFLICT `EXTERNAL_REF_TAKEN` when a reference is linked to another record. ADMIN, OPERATIONS, INTEGRATION.',
  })
  upsertAccount(@Arg('input', { description: 'The account to create or update.' }) input: UpsertAccountInput, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return ctx.services.accounts.upsert(ctx, input);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Account, { description: 'Marks an account ARCHIVED (no-op if it already is). ADMIN, OPERATIONS, INTEGRATION.' })
  archiveAccount(@Arg('id', () => ID, { description: 'The account id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return ctx.services.accounts.setStatus(ctx, id, AccountStatus.ARCHIVED);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Account, { description: 'Makes an archived account ACTIVE again (no-op if it is). ADMIN, OPERATIONS, INTEGRATION.' })
  restoreAccount(@Arg('id', () => ID, { description: 'The account id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return ctx.services.accounts.setStatus(ctx, id, AccountStatus.ACTIVE);
  }

  @FieldResolver(() => [ExternalRef], { description: 'References to this account in other systems, oldest first.' })
  externalRefs(@Root() account: Account, @Ctx() ctx: GraphQLContext): Promise<ExternalRef[]> {
    return ctx.loaders.accounts.externalRefs.load({ entityType: 'ACCOUNT', entityId: account.id });
  }

  @FieldResolver(() => ContactConnection, { description: 'The account\'s contacts, oldest first.' })
  contacts(@Root() account: Account, @Args() args: ContactListArgs, @Ctx() ctx: GraphQLContext): Promise<Connection<Contact>> {
    return ctx.loaders.accounts.contactPages.load({ accountId: account.id, args });
  }
}

@Resolver(() => Contact)
export class ContactResolver {
  @Authorized(Roles.ANY)
  @Query(() => ContactConnection, { description: 'The contacts of an account, oldest first; NOT_FOUND when the account does not exist.' })
  contacts(
    @Arg('accountId', () => ID, { description: 'The account id.' }) accountId: string,
    @Args() args: ContactListArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<Contact>> {
    return ctx.services.accounts.contacts.list(ctx, accountId, args);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Contact, {
    description:
      'Creates or updates a contact of an account; sending the same input again changes nothing. ' +
      'CONFLICT `CONTACT_EMAIL_TAKEN` or `EXTERNAL_REF_TAKEN` on clashes. ADMIN, OPERATIONS, INTEGRATION.',
  })
  upsertContact(@Arg('input', { description: 'The contact to create or update.' }) input: UpsertContactInput, @Ctx() ctx: GraphQLContext): Promise<Contact> {
    return ctx.services.accounts.contacts.upsert(ctx, input);
  }

  @Authorized(Roles.OPERATE_OR_INTEGRATE)
  @Mutation(() => Contact, {
    nullable: true,
    description: 'Deletes a contact and its external references; returns it as it was. NOT_FOUND if missing. ADMIN, OPERATIONS, INTEGRATION.',
  })
  removeContact(@Arg('id', () => ID, { description: 'The contact id.' }) id: string, @Ctx() ctx: GraphQLContext): Promise<Contact> {
    return ctx.services.accounts.contacts.remove(ctx, id);
  }

  @FieldResolver(() => Account, { description: 'The account the contact belongs to.' })
  async account(@Root() contact: Contact, @Ctx() ctx: GraphQLContext): Promise<Account> {
    return (await ctx.loaders.accounts.account.load(contact.accountId))!;
  }

  @FieldResolver(() => [ExternalRef], { description: 'References to this contact in other systems, oldest first.' })
  externalRefs(@Root() contact: Contact, @Ctx() ctx: GraphQLContext): Promise<ExternalRef[]> {
    return ctx.loaders.accounts.externalRefs.load({ entityType: 'CONTACT', entityId: contact.id });
  }
}

/** The accounts domain's resolvers (registered in src/server/schema.ts). */
export const AccountResolvers: Function[] = [AccountResolver, ContactResolver];
