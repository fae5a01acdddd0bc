import type { Db } from '../db/db';

export type CatalogLoaders = Record<string, never>;
export function createCatalogLoaders(_db: Db): CatalogLoaders {
  return {};
}
