/** GraphQL resolvers of the webhooks domain. */
export const WebhookResolvers: Function[] = [];
