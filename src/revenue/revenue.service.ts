import type { Config } from '../config';
import type { Db } from '../db/db';

/** Revenue recognition: obligations, allocation, schedules, modifications, periods, billing. */
export class RevenueService {
  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}
}
