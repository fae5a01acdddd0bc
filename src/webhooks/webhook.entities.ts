/** Entities of the webhooks domain. */
export const webhookEntities: Function[] = [];
