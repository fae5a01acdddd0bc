import type { EntityManager } from 'typeorm';

/**
 * Facts a domain publishes on its transaction (`tx.publish`), for whoever must act on them
 * in that same transaction: the sync outbox (what the CRM/ERP shows changed) and the
 * webhooks (a notification to deliver). Domains name what happened, never who cares, so no
 * domain imports `src/sync/` or `src/webhooks/`; the subscribers decide what a fact means to
 * them (for example, usage re-sends CRM fields at most once per interval).
 */
export type DomainEvent =
  /** An order was fulfilled, revised or withdrawn: every entitlement its lines shaped may have changed. */
  | { kind: 'order.fulfilled'; accountId: string; orderId: string }
  /** Entitlements changed (status, dates, quantity, devices, seats). */
  | { kind: 'entitlements.changed'; accountIds: readonly string[]; entitlementIds: readonly string[] }
  /** Contract terms (support level, support end, warranty, cases) of these entitlements changed, or a support tier they use (ADR 0037). */
  | { kind: 'support.changed'; accountIds: readonly string[]; entitlementIds: readonly string[] }
  /** Usage events were recorded for these accounts. */
  | { kind: 'usage.recorded'; accountIds: readonly string[] }
  /** A consumable entitlement was drawn on. */
  | { kind: 'consumption.drawn'; accountId: string; entitlementId: string }
  /**
   * Compliance findings of an account were opened, changed or resolved; `findingIds` names
   * those opened, re-measured or reopened (or whose status a person changed), when known.
   */
  | { kind: 'findings.changed'; accountId: string; findingIds?: readonly string[] }
  /** Health scores (or their overrides) of these accounts changed. */
  | { kind: 'health.changed'; accountIds: readonly string[] }
  /** The model-fit summary of these accounts changed (ADR 0033). */
  | { kind: 'modelfit.changed'; accountIds: readonly string[] }
  /** The churn prediction of these accounts changed (a new model version, an ARR forecast snapshot that moved). */
  | { kind: 'churn.changed'; accountIds: readonly string[] }
  /** The devices of these accounts held back by lapsed maintenance, or what renewing it is worth, changed (ADR 0048). */
  | { kind: 'delivery.changed'; accountIds: readonly string[] }
  /** An account was linked to a record in an external system. */
  | { kind: 'account.linked'; accountId: string }
  /** A revenue period (month, YYYY-MM) was closed: its journal is final and goes to the ERP. */
  | { kind: 'revenue.period.closed'; month: string }
  /** A notification was raised (a threshold crossed, a finding opened): to be delivered. */
  | { kind: 'notification.raised'; notificationId: string; eventType: string; key: string; accountId: string | null; payload: unknown };

/**
 * Runs just before commit with every fact of the transaction, in publishing order, in the
 * transaction (its writes commit or roll back with the change). Keep it set-based: it runs
 * on hot paths (usage ingest, licensing).
 */
export type DomainEventSubscriber = (manager: EntityManager, events: readonly DomainEvent[]) => Promise<void>;

/** The subscribers of one hub (one Db): registered at start-up, by name. */
export class DomainEvents {
  private readonly subscribers = new Map<string, DomainEventSubscriber>();

  /** Subscribes under a name; subscribing a name again replaces the earlier one (services built twice on one Db). */
  subscribe(name: string, subscriber: DomainEventSubscriber): void {
    this.subscribers.set(name, subscriber);
  }

  /** Hands a transaction's facts to every subscriber, in subscription order (nothing to do when none were published). */
  async dispatch(manager: EntityManager, events: readonly DomainEvent[]): Promise<void> {
    if (events.length === 0) return;
    for (const s of this.subscribers.values()) await s(manager, events);
  }
}
