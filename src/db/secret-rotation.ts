import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { SecretBox } from '../common/secret-box';
import { credentialsContext } from '../sync/sync.service';
import { secretContext } from '../webhooks/webhook.service';

/** Every column holding a SecretBox value, and the context it was sealed with. */
export const SEALED_COLUMNS: readonly { table: string; column: string; context: (id: string) => string }[] = [
  { table: 'sync_connection', column: 'credentials_ciphertext', context: credentialsContext },
  { table: 'webhook_endpoint', column: 'secret_ciphertext', context: secretContext },
  { table: 'webhook_endpoint', column: 'previous_secret_ciphertext', context: secretContext },
];

export interface RotationResult {
  /** Values re-encrypted under the current key, per `table.column`. */
  rotated: Record<string, number>;
  /** Values changed by the hub while this ran (it wrote them under the current key already). */
  raced: number;
  /** Values neither key opens: `table.column id` and why. */
  failures: string[];
}

/**
 * Re-encrypts every stored secret not yet under the current key (`ehub secrets rotate`),
 * in batches, each row by a conditional update (only if it still holds what was read), so
 * running hubs keep reading and writing throughout. Safe to run again: a second run finds
 * nothing to do.
 */
export async function rotateSecrets(ds: DataSource, box: SecretBox, log: Logger, batch = 100): Promise<RotationResult> {
  const kid = await box.currentKeyId(log);
  const result: RotationResult = { rotated: {}, raced: 0, failures: [] };
  for (const { table, column, context } of SEALED_COLUMNS) {
    const name = `${table}.${column}`;
    result.rotated[name] = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      // Values under another key: version 1 (no key id) or a version 2 naming another key.
      const rows: { id: string; sealed: Buffer }[] = await ds.query(
        `SELECT id::text AS id, ${column} AS sealed FROM ${table}
          WHERE id > $1 AND ${column} IS NOT NULL AND (get_byte(${column}, 0) <> 2 OR substring(${column} FROM 2 FOR 4) <> $2)
          ORDER BY id LIMIT $3`,
        [after, kid, batch],
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      for (const row of rows) {
        let resealed: Buffer;
        try {
          resealed = await box.seal(await box.open(row.sealed, context(row.id), log), context(row.id), log);
        } catch (err) {
          result.failures.push(`${name} ${row.id}: ${(err as Error).message}`);
          continue;
        }
        const [, affected] = (await ds.query(`UPDATE ${table} SET ${column} = $1 WHERE id = $2 AND ${column} = $3`, [resealed, row.id, row.sealed])) as [unknown, number];
        if (affected === 1) result.rotated[name]++;
        else result.raced++;
      }
    }
  }
  return result;
}
