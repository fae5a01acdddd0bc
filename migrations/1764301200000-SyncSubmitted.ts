import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outbox items handed to the target as work it finishes on its own (a closed Salesforce
 * Bulk API 2.0 job) are SUBMITTED and keep the connector's handle of that work, so the push
 * reads the same job's outcome again after a failed poll or a restart instead of sending the
 * batch a second time.
 */
export class SyncSubmitted1764301200000 implements MigrationInterface {
  name = 'SyncSubmitted1764301200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_status_check`);
    await q.query(`ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_status_check CHECK (status IN ('PENDING','IN_FLIGHT','SUBMITTED','FAILED','DONE','DEAD'))`);
    await q.query(`ALTER TABLE sync_outbox ADD COLUMN push_handle text`);
    await q.query(`ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_handle_check CHECK ((status = 'SUBMITTED') = (push_handle IS NOT NULL))`);
    await q.query(`CREATE INDEX sync_outbox_submitted_idx ON sync_outbox (connection_id, next_attempt_at) WHERE status = 'SUBMITTED'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX sync_outbox_submitted_idx`);
    // Items waiting on a job are sent again (idempotent writes) rather than lost.
    await q.query(`UPDATE sync_outbox SET status = 'FAILED', next_attempt_at = now() WHERE status = 'SUBMITTED'`);
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_handle_check`);
    await q.query(`ALTER TABLE sync_outbox DROP COLUMN push_handle`);
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_status_check`);
    await q.query(`ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_status_check CHECK (status IN ('PENDING','IN_FLIGHT','FAILED','DONE','DEAD'))`);
  }
}
