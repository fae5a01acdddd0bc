import type { Db } from '../db/db';

export class AccountService {
  constructor(readonly db: Db) {}
}
