import type { Db } from '../db/db';

export type AccountLoaders = Record<string, never>;
export function createAccountLoaders(_db: Db): AccountLoaders {
  return {};
}
