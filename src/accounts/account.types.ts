import { ArgsType, Field, ID, InputType } from 'type-graphql';
import {
  ArrayMaxSize,
  IsEmail,
  IsFQDN,
  IsISO31661Alpha2,
  IsISO4217CurrencyCode,
  IsOptional,
  IsUUID,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { ConnectionType, PageArgs } from '../common/pagination';
import { Account, AccountStatus } from './account.entity';
import { Contact } from './contact.entity';

const NOT_BLANK = /\S/;
const notBlank = { message: '$property must not be blank' };

@InputType({ description: 'A reference to a record in another system. `system` is stored lowercased.' })
export class ExternalRefInput {
  @Field({ description: 'The external system, e.g. `salesforce`, `netsuite` (case-insensitive, stored lowercased).' })
  @Length(1, 255)
  @Matches(NOT_BLANK, notBlank)
  system: string;

  @Field({ description: 'The object (record type) in that system, e.g. `Account`, `customer`, `Contact`.' })
  @Length(1, 255)
  @Matches(NOT_BLANK, notBlank)
  object: string;

  @Field({ description: 'The record id in that system (case-sensitive).' })
  @Length(1, 255)
  @Matches(NOT_BLANK, notBlank)
  externalId: string;
}

@ArgsType()
export class ExternalRefArgs {
  @Field({ description: 'The external system, e.g. `salesforce` (case-insensitive).' })
  @Length(1, 255)
  system: string;

  @Field({ description: 'The object in that system, e.g. `Account`.' })
  @Length(1, 255)
  object: string;

  @Field({ description: 'The record id in that system.' })
  @Length(1, 255)
  externalId: string;
}

@InputType({
  description:
    'An account to create or update. Matched by `id` when given, else by any of `externalRefs` that is already linked, else created. ' +
    'Fields left out keep their value; `null` clears `domain`, `country` and `segment`.',
})
export class UpsertAccountInput {
  @Field(() => ID, { nullable: true, description: 'Update this account (NOT_FOUND if it does not exist).' })
  @IsOptional()
  @IsUUID('all', { message: 'id must be an account id (UUID)' })
  id?: string | null;

  @Field({ description: 'The customer name (1–255 characters).' })
  @Length(1, 255)
  @Matches(NOT_BLANK, notBlank)
  name: string;

  @Field(() => String, { nullable: true, description: 'The customer web domain, a host name such as `acme.com` (stored lowercased).' })
  @IsOptional()
  @MaxLength(253)
  @IsFQDN({ require_tld: true, allow_underscores: false, allow_trailing_dot: false }, { message: 'domain must be a host name such as acme.com' })
  domain?: string | null;

  @Field(() => String, { nullable: true, description: 'ISO 4217 currency code, e.g. USD (the default for new accounts).' })
  @IsOptional()
  @IsISO4217CurrencyCode({ message: 'currency must be an ISO 4217 currency code such as USD' })
  currency?: string | null;

  @Field(() => String, { nullable: true, description: 'ISO 3166-1 alpha-2 country code, e.g. DE.' })
  @IsOptional()
  @IsISO31661Alpha2({ message: 'country must be an ISO 3166-1 alpha-2 country code such as DE' })
  country?: string | null;

  @Field(() => String, { nullable: true, description: 'A market segment, free text such as ENTERPRISE, MID_MARKET or SMB (1–100 characters).' })
  @IsOptional()
  @Length(1, 100)
  @Matches(NOT_BLANK, notBlank)
  segment?: string | null;

  @Field(() => [ExternalRefInput], {
    nullable: true,
    description: 'References to link (added; links the account already has are kept). A reference linked to another record is a CONFLICT.',
  })
  @IsOptional()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  externalRefs?: ExternalRefInput[] | null;
}

@InputType({
  description:
    'A contact to create or update, matched by any of `externalRefs` that is already linked, else by (`accountId`, `email`), else created.',
})
export class UpsertContactInput {
  @Field(() => ID, { description: 'The account the contact belongs to.' })
  @IsUUID('all', { message: 'accountId must be an account id (UUID)' })
  accountId: string;

  @Field({ description: 'Email address; case-insensitive, stored lowercased, unique within the account.' })
  @MaxLength(320)
  @IsEmail({}, { message: 'email must be an email address' })
  email: string;

  @Field(() => String, { nullable: true, description: 'Full name (up to 255 characters). Left out: kept; null: cleared.' })
  @IsOptional()
  @MaxLength(255)
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'Job title (up to 128 characters). Left out: kept; null or blank: cleared.' })
  @IsOptional()
  @MaxLength(128)
  title?: string | null;

  @Field(() => String, { nullable: true, description: 'Department (up to 80 characters). Left out: kept; null or blank: cleared.' })
  @IsOptional()
  @MaxLength(80)
  department?: string | null;

  @Field(() => [ExternalRefInput], {
    nullable: true,
    description: 'References to link (added; existing links are kept). A reference linked to another record is a CONFLICT.',
  })
  @IsOptional()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  externalRefs?: ExternalRefInput[] | null;
}

@ArgsType()
export class AccountListArgs extends PageArgs {
  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive text to find in the name, the domain or an external id.',
  })
  @IsOptional()
  @MaxLength(255)
  search?: string | null;

  @Field(() => AccountStatus, { nullable: true, description: 'Only accounts with this status (default: all).' })
  status?: AccountStatus | null;
}

@ArgsType()
export class ContactListArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Case-insensitive text to find in the email, the name or an external id.' })
  @IsOptional()
  @MaxLength(255)
  search?: string | null;
}

export const AccountConnection = ConnectionType(Account);
export const ContactConnection = ConnectionType(Contact);
