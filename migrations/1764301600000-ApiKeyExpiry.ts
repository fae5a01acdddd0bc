import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys may carry an expiry: past `expires_at` the key answers UNAUTHENTICATED /
 * AUTH_KEY_EXPIRED. Null (every existing key, and the EHUB_ADMIN_KEY bootstrap key) never
 * expires.
 */
export class ApiKeyExpiry1764301600000 implements MigrationInterface {
  name = 'ApiKeyExpiry1764301600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_key ADD COLUMN expires_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_key DROP COLUMN expires_at`);
  }
}
