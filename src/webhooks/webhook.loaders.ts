import DataLoader from 'dataloader';
import type { WebhookAttempt } from './webhook.entities';
import type { WebhookService } from './webhook.service';

export interface WebhookLoaders {
  /** `WebhookDelivery.attempts`: the attempts of every delivery in a list, in one query. */
  attempts: DataLoader<string, WebhookAttempt[]>;
}

export function createWebhookLoaders(webhooks: WebhookService): WebhookLoaders {
  return { attempts: new DataLoader((ids) => webhooks.attemptsOf(ids)) };
}
