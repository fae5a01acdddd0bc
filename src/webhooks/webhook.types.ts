import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ArrayMaxSize, IsOptional, IsUUID, Length, Max, Min, ValidateNested } from 'class-validator';
import { ConnectionType, PageArgs } from '../common/pagination';
import { WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint } from './webhook.entities';

@InputType({ description: 'A new webhook endpoint.' })
export class CreateWebhookEndpointInput {
  @Field({ description: 'Where to POST events: an http or https URL without credentials.' })
  @Length(1, 2048)
  url: string;

  @Field(() => [String], { description: 'The event types to receive (see `webhookEventTypes`), or `*` for all.' })
  @ArrayMaxSize(50)
  eventTypes: string[];

  @Field(() => String, { nullable: true, description: 'A note for people: who runs the receiver and why.' })
  @IsOptional()
  @Length(0, 500)
  description?: string | null;

  @Field(() => ID, { nullable: true, description: "Only this account's events (forced to the key's account for account-scoped keys)." })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;
}

@InputType({ description: 'Changes to a webhook endpoint; omitted fields stay as they are.' })
export class UpdateWebhookEndpointInput {
  @Field(() => String, { nullable: true, description: 'The new URL (http or https, no credentials).' })
  @IsOptional()
  @Length(1, 2048)
  url?: string | null;

  @Field(() => [String], { nullable: true, description: 'The new list of event types (replaces the old one).' })
  @IsOptional()
  @ArrayMaxSize(50)
  eventTypes?: string[] | null;

  @Field(() => String, { nullable: true, description: 'The new note ("" clears it).' })
  @IsOptional()
  @Length(0, 500)
  description?: string | null;
}

@ObjectType({ description: 'An endpoint with its signing secret: the only time the secret is shown. Store it now.' })
export class WebhookEndpointWithSecret {
  @Field(() => WebhookEndpoint, { description: 'The endpoint.' })
  endpoint: WebhookEndpoint;

  @Field({ description: 'The signing secret (`whsec_` + base64 key), for the Standard Webhooks `webhook-signature` (e.g. `new Webhook(secret)` of the standardwebhooks library); the deprecated `Ehub-Webhook-Signature` uses the whole string as its key.' })
  secret: string;
}

@ObjectType({ description: 'An event type endpoints can subscribe to.' })
export class WebhookEventType {
  @Field({ description: 'The type, e.g. `usage.threshold`.' })
  type: string;

  @Field({ description: 'When the hub emits it.' })
  description: string;
}

@InputType({ description: 'Which deliveries to list; every field narrows the list.' })
export class WebhookDeliveryFilter {
  @Field(() => ID, { nullable: true, description: 'Deliveries to this endpoint.' })
  @IsOptional()
  @IsUUID()
  endpointId?: string | null;

  @Field(() => WebhookDeliveryStatus, { nullable: true, description: 'Deliveries in this status.' })
  @IsOptional()
  status?: WebhookDeliveryStatus | null;

  @Field(() => String, { nullable: true, description: 'Deliveries of this event type.' })
  @IsOptional()
  @Length(1, 100)
  eventType?: string | null;

  @Field(() => ID, { nullable: true, description: 'Deliveries of events about this account.' })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;
}

@ArgsType()
export class WebhookDeliveryListArgs extends PageArgs {
  @Field(() => WebhookDeliveryFilter, { nullable: true, description: 'Which deliveries.' })
  @IsOptional()
  @ValidateNested()
  filter?: WebhookDeliveryFilter | null;
}

@ArgsType()
export class WebhookEndpointListArgs extends PageArgs {
  @Field({ defaultValue: false, description: 'Include disabled endpoints.' })
  includeDisabled: boolean = false;
}

@ArgsType()
export class RotateWebhookSecretArgs {
  @Field(() => ID, { description: 'The endpoint id.' })
  @IsUUID()
  id: string;

  @Field(() => Int, {
    defaultValue: 24,
    description: 'For how many hours deliveries still carry a second signature made with the old secret (0–720; 0 drops it at once).',
  })
  @Min(0)
  @Max(720)
  keepPreviousHours: number = 24;
}

export const WebhookEndpointConnection = ConnectionType(WebhookEndpoint);
export const WebhookDeliveryConnection = ConnectionType(WebhookDelivery);
