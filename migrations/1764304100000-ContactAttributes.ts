import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 16, personas (docs/analytics.md "usagePersonas"): a contact's job title and
 * department, as the CRM holds them (Salesforce Contact.Title and Contact.Department) or as
 * `upsertContact` sets them, so usage can be grouped by who the users are (a usage event's
 * user is matched to the contact of that e-mail in the same account, through the existing
 * unique index on (account_id, email)).
 */
export class ContactAttributes1764304100000 implements MigrationInterface {
  name = 'ContactAttributes1764304100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE contact ADD COLUMN title text CHECK (char_length(title) <= 128)`);
    await q.query(`ALTER TABLE contact ADD COLUMN department text CHECK (char_length(department) <= 80)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE contact DROP COLUMN department`);
    await q.query(`ALTER TABLE contact DROP COLUMN title`);
  }
}
