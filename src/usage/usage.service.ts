import type { Config } from '../config';
import type { Db } from '../db/db';

/** Usage ingestion (recordUsage, POST /v1/usage): exactly once, attributed, rolled up. */
export class UsageService {
  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}
}
