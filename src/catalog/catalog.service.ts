import type { Db } from '../db/db';

export class CatalogService {
  constructor(readonly db: Db) {}
}
