import type { Config } from '../config';
import type { Db } from '../db/db';
import type { WebhookService } from '../webhooks/webhook.service';

/** Compliance findings (overuse, shelfware, unentitled use, leakage) and threshold notifications. */
export class ComplianceService {
  constructor(
    readonly db: Db,
    readonly config: Config,
    readonly webhooks: WebhookService,
  ) {}
}
