import type { Config } from '../config';
import type { Db } from '../db/db';

/** Webhook endpoints and the outbox of signed deliveries. */
export class WebhookService {
  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}
}
