import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A dated history of each receivable's open amount (docs/churn.md, "Overdue receivables"):
 * `receivable` holds the ERP document as it is now, so "was this invoice still open on day
 * D?" could not be answered without reading a later payment into an earlier day. Each row
 * here says: from `valid_from` (the ERP's own modification instant of the document) the
 * document had this open amount, status and deleted flag. A trigger writes it whenever an
 * insert or an update changes one of them, whichever code path wrote the receivable (the
 * per-record upsert, a set-based pull, the demo book). The same modification instant twice
 * keeps the first row.
 *
 * Existing receivables get one row each, valid from their modification instant: what the
 * hub knew, and since when.
 */
export class ReceivableHistory1764303200000 implements MigrationInterface {
  name = 'ReceivableHistory1764303200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE receivable_history (
        receivable_id uuid NOT NULL REFERENCES receivable(id) ON DELETE CASCADE,
        valid_from timestamptz(3) NOT NULL,
        open_minor bigint NOT NULL CHECK (open_minor >= 0),
        status text,
        deleted boolean NOT NULL,
        PRIMARY KEY (receivable_id, valid_from)
      )`);
    await q.query(`
      CREATE FUNCTION receivable_history_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR (NEW.open_minor, NEW.status, NEW.deleted) IS DISTINCT FROM (OLD.open_minor, OLD.status, OLD.deleted) THEN
          INSERT INTO receivable_history (receivable_id, valid_from, open_minor, status, deleted)
          VALUES (NEW.id, NEW.modified_at, NEW.open_minor, NEW.status, NEW.deleted)
          ON CONFLICT (receivable_id, valid_from) DO NOTHING;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER receivable_history_trg AFTER INSERT OR UPDATE ON receivable
        FOR EACH ROW EXECUTE FUNCTION receivable_history_write()`);
    await q.query(`
      INSERT INTO receivable_history (receivable_id, valid_from, open_minor, status, deleted)
      SELECT id, modified_at, open_minor, status, deleted FROM receivable`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER receivable_history_trg ON receivable`);
    await q.query(`DROP FUNCTION receivable_history_write()`);
    await q.query(`DROP TABLE receivable_history`);
  }
}
