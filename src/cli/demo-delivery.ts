import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import type { UpsertReleaseInput } from '../delivery/delivery.types';
import type { StartRolloutInput } from '../delivery/rollout.types';
import { ReleaseChannel, ReleaseStatus } from '../delivery/delivery.types';

const DAY = 86_400_000;

/**
 * Releases and a staged rollout for the book's gateway fleet (`ehub demo --book`), so the
 * console's Delivery page has something to show: GW-100 4.1.0 (published 120 days ago) and
 * 4.2.0 (published 10 days ago) with a staged rollout at its first stage (10 %). The devices are
 * the book's own activations; nothing is reported for them (their versions show as unknown).
 * Safe to run again: the releases are upserted by version and a rollout is started only once.
 */
export async function seedDeliveryDemo(s: Services, ctx: RequestContext, sku = 'GW-100', now = Date.now()): Promise<{ releases: string[]; rolloutStarted: boolean }> {
  const releases: string[] = [];
  const versions = [
    ['4.1.0', 120, 'Gateway firmware: TLS 1.3 by default.'],
    ['4.2.0', 10, 'Gateway firmware: delta updates, lower idle power.'],
  ] as const;
  let newestIsDraft = false;
  for (const [i, [version, daysAgo, notes]] of versions.entries()) {
    const existing = (await s.delivery.releases(ctx, sku)).find((r) => r.version === version);
    if (existing && existing.status !== ReleaseStatus.DRAFT) {
      releases.push(existing.id);
      continue;
    }
    // The newest is rolled out: a draft first, published once its rollout is in place (below).
    newestIsDraft = i === versions.length - 1;
    const r = await s.delivery.upsertRelease(ctx, {
      product: sku,
      version,
      channel: ReleaseChannel.STABLE,
      status: newestIsDraft ? ReleaseStatus.DRAFT : ReleaseStatus.PUBLISHED,
      releaseDate: new Date(now - daysAgo * DAY),
      notes,
    } as UpsertReleaseInput);
    releases.push(r.id);
  }
  const newest = releases[releases.length - 1]!;
  let rolloutStarted = false;
  if (!(await s.rollouts.get(ctx, newest))) {
    await s.rollouts.start(ctx, { release: newest, stages: [10, 50, 100] } as StartRolloutInput);
    rolloutStarted = true;
  }
  // As an operator would: published after the rollout exists, so that update notices (MQTT) go
  // to the devices of its first stage only, not to the whole fleet.
  if (newestIsDraft) {
    await s.delivery.upsertRelease(ctx, { product: sku, version: versions[versions.length - 1]![0], status: ReleaseStatus.PUBLISHED } as UpsertReleaseInput);
  }
  return { releases, rolloutStarted };
}
