import { Field, InputType, ObjectType } from 'type-graphql';
import { IsOptional, IsUUID, Length } from 'class-validator';
import { ConnectionType } from '../common/pagination';
import { ApiKey } from './api-key.entity';
import { Role } from './role';

@InputType({ description: 'A new API key.' })
export class CreateApiKeyInput {
  @Field({ description: 'A label for people: who or what will use the key.' })
  @Length(1, 200)
  name: string;

  @Field(() => Role, { description: 'What the key may do.' })
  role: Role;

  @Field(() => String, { nullable: true, description: 'Limit the key to this account; it then sees nothing else.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key stops working (an ISO 8601 date-time in the future); omitted or null: never. Past it the key answers UNAUTHENTICATED / AUTH_KEY_EXPIRED.',
  })
  @IsOptional()
  expiresAt?: Date | null;
}

@ObjectType({ description: 'A created key. `key` is the only time the secret is shown: store it now.' })
export class CreatedApiKey {
  @Field({ description: 'The full key, `ehub_<prefix>_<secret>`. Send it as `Authorization: Bearer <key>`.' })
  key: string;

  @Field(() => ApiKey, { description: 'The stored key (without its secret).' })
  apiKey: ApiKey;
}

export const ApiKeyConnection = ConnectionType(ApiKey);
