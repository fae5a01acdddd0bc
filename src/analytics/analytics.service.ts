import type { Config } from '../config';
import type { Db } from '../db/db';

/** Usage analytics: usageSeries, utilization, adoption, unusedEntitlements. */
export class AnalyticsService {
  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}
}
