import type { RequestContext } from '../common/context';
import { paginate, type Connection, type PageArgs } from '../common/pagination';
import type { Db } from '../db/db';
import { writeAudit } from '../db/db';
import { AuditLog } from './audit-log.entity';

export interface AuditFilter {
  entity?: string | null;
  entityId?: string | null;
  operation?: string | null;
  keyId?: string | null;
  requestId?: string | null;
  since?: Date | null;
}

export class AuditService {
  constructor(private readonly db: Db) {}

  async list(_ctx: RequestContext, filter: AuditFilter, args: PageArgs): Promise<Connection<AuditLog>> {
    const qb = this.db.manager.createQueryBuilder(AuditLog, 'a');
    if (filter.entity) qb.andWhere('a.entity = :entity', { entity: filter.entity });
    if (filter.entityId) qb.andWhere('a.entityId = :entityId', { entityId: filter.entityId });
    if (filter.operation) qb.andWhere('a.operation = :operation', { operation: filter.operation });
    if (filter.keyId) qb.andWhere('a.keyId = :keyId', { keyId: filter.keyId });
    if (filter.requestId) qb.andWhere('a.requestId = :requestId', { requestId: filter.requestId });
    if (filter.since) qb.andWhere('a.at >= :since', { since: filter.since });
    return paginate(qb, 'a', args, 'at');
  }

  /** For mutations that changed nothing worth an entity diff: still one row per mutation. */
  async recordOperation(ctx: RequestContext, args: unknown): Promise<void> {
    await writeAudit(this.db.manager, ctx, [{ entity: 'Operation', entityId: null, action: 'CALL', after: { args } }]);
    ctx.auditWrites += 1;
  }
}
