import { useEffect, useState } from 'preact/hooks';
import { failureText, gql } from '../api';
import type { Viewer } from '../operations';
import {
  ADVANCE_ROLLOUT,
  DELIVERY,
  DELIVERY_PRODUCTS,
  HALT_ROLLOUT,
  RESUME_ROLLOUT,
  ROLLOUT,
  ROLLOUT_ROLES,
  START_ROLLOUT,
  YANK_RELEASE,
  type ProductOption,
  type RolloutView,
  type StartRolloutVars,
} from '../operations-integrations';
import { date, dateTime } from '../format';
import { ErrorBox, GraphiQLLink, Link, Loading, Scroll, Section, useQuery } from '../ui';

/** What each held-back reason means, for a person (the codes polls and releaseAccess give). */
const REASONS: Record<string, string> = {
  MAINTENANCE_ENDED: 'maintenance ended before the release (renewing it would bring the update)',
  MAINTENANCE_REVOKED: 'maintenance ended and the terms revoke every release',
  WARRANTY_RESTRICTED: 'the warranty no longer covers this release',
  INCOMPATIBLE_PLATFORM: 'the release does not support the device’s platform',
  INCOMPATIBLE_ARCHITECTURE: 'the release does not support the device’s architecture',
  INCOMPATIBLE_DEVICE_TYPE: 'the release is not for this device type',
  UPGRADE_PATH_UNSUPPORTED: 'the device’s version is too old to upgrade directly (minUpgradeFrom)',
  FEATURE_MISSING: 'the release needs a feature the entitlement lacks',
  CHANNEL_MISMATCH: 'the device follows a more stable channel',
  ENTITLEMENT_NOT_ACTIVE: 'the device’s entitlement is not active',
  ROLLOUT_HALTED: 'the staged rollout is halted',
  ROLLOUT_NOT_YET: 'not in the rollout’s current stage yet',
};

/** The product in the address (?product=SKU), else the first device or hardware product, else the first. */
function pickProduct(products: ProductOption[]): string | null {
  const asked = new URLSearchParams(location.search).get('product');
  if (asked && products.some((p) => p.sku === asked || p.id === asked)) return asked;
  return (products.find((p) => p.kind === 'IOT_DEVICE' || p.kind === 'HARDWARE') ?? products[0])?.sku ?? null;
}

/**
 * Delivery: a product's releases, where its fleet stands against a release (devices per version,
 * up to date, offered, held back and why, renewal opportunities) and the release's staged rollout
 * (ADMIN, OPERATIONS, INTEGRATION read it; start, halt, resume or advance it; and yank a
 * published release). Requests: the products, the product's fleet, the rollout of the release
 * judged.
 */
export function Delivery({ viewer }: { viewer: Viewer }) {
  const ops = ROLLOUT_ROLES.includes(viewer.role);
  const canAct = ops && !viewer.accountId;
  const products = useQuery(DELIVERY_PRODUCTS, {}, []);
  const list = products.data?.products.edges.map((e) => e.node) ?? [];
  const [product, setProduct] = useState<string | null>(null);
  const [release, setRelease] = useState<string | null>(() => new URLSearchParams(location.search).get('release'));
  useEffect(() => {
    if (products.data && product === null) setProduct(pickProduct(list));
  }, [products.data]);

  if (products.loading)
    return (
      <>
        <h1>Delivery</h1>
        <Loading what="products" />
      </>
    );
  if (products.error)
    return (
      <>
        <h1>Delivery</h1>
        <ErrorBox error={products.error} what="products" />
      </>
    );
  if (list.length === 0)
    return (
      <>
        <h1>Delivery</h1>
        <p data-loaded="delivery">No product in the catalog yet: releases belong to products (docs/delivery.md).</p>
      </>
    );
  return (
    <>
      <div class="page-head">
        <h1>Delivery</h1>
      </div>
      <form class="filters" aria-label="Choose the product" onSubmit={(ev) => ev.preventDefault()}>
        <label>
          Product
          <select
            name="product"
            value={product ?? ''}
            onChange={(e) => {
              const sku = (e.target as HTMLSelectElement).value;
              setProduct(sku);
              setRelease(null);
              history.replaceState(null, '', `/console/delivery?product=${encodeURIComponent(sku)}`);
            }}
          >
            {list.map((p) => (
              <option key={p.id} value={p.sku}>
                {p.name} ({p.sku})
              </option>
            ))}
          </select>
        </label>
      </form>
      {product && (
        <Fleet
          key={`${product}:${release ?? ''}`}
          product={product}
          release={release}
          ops={ops}
          canAct={canAct}
          onRelease={(id) => {
            setRelease(id);
            history.replaceState(null, '', `/console/delivery?product=${encodeURIComponent(product)}&release=${encodeURIComponent(id)}`);
          }}
        />
      )}
    </>
  );
}

function Fleet({ product, release, ops, canAct, onRelease }: { product: string; release: string | null; ops: boolean; canAct: boolean; onRelease: (id: string) => void }) {
  const variables = { product, productRef: product, release, ops };
  const q = useQuery(DELIVERY, variables, [product, release]);
  const s = q.data?.deliveryStatus;
  // What the last rollout change did: kept here, as the rollout card is drawn again with the reloaded page.
  const [changed, setChanged] = useState<string | null>(null);
  const [yankVersion, setYankVersion] = useState('');
  const [yankReason, setYankReason] = useState('');
  const [yankError, setYankError] = useState<string | null>(null);
  const [yanking, setYanking] = useState(false);
  /** Withdraws a published release (upsertRelease with status YANKED): no new download links, offered to no device. A reason is required. */
  const published = q.data?.releases.filter((r) => r.status === 'PUBLISHED') ?? [];
  // The release the form names: the one chosen, else the newest published.
  const yankTarget = yankVersion || published[0]?.version || '';
  async function yank() {
    const reason = yankReason.trim();
    setYankError(null);
    if (!reason) {
      setYankError('Not yanked: say why (devices and operators see the reason).');
      return;
    }
    setYanking(true);
    try {
      const r = (await gql(YANK_RELEASE, { product, version: yankTarget, reason })).data.upsertRelease;
      setYankReason('');
      setYankVersion('');
      setChanged(`Release ${r.version} ${r.status.toLowerCase()}: ${r.yankReason ?? ''}`);
      q.reload();
    } catch (e) {
      setYankError(`Not yanked: ${failureText(e)}`);
    } finally {
      setYanking(false);
    }
  }
  return (
    <>
      <p>
        <GraphiQLLink d={DELIVERY} variables={variables} />
      </p>
      {changed && (
        <p role="status" data-action-message>
          {changed}
        </p>
      )}
      {q.loading && <Loading what="releases and devices" />}
      {q.error && <ErrorBox error={q.error} what="delivery status" />}
      {q.data && s && !q.loading && (
        <div class="grid" data-loaded="delivery">
          <Section title={s.version ? `Fleet against ${s.sku} ${s.version}` : `Fleet of ${s.sku}`} id="fleet">
            {!s.releaseId && <p>No published stable release of this product yet: nothing to judge the fleet against.</p>}
            <dl class="figures">
              <div>
                <dt>Active devices</dt>
                <dd data-figure="devices">{s.devices}</dd>
              </div>
              <div>
                <dt>Up to date</dt>
                <dd data-figure="up-to-date">{s.upToDate}</dd>
              </div>
              <div>
                <dt>Offered on next poll</dt>
                <dd data-figure="offered">{s.offered}</dd>
              </div>
              {s.notified > 0 && (
                <div>
                  <dt title="Offered devices told of the release by an update notice (MQTT)">Told over MQTT</dt>
                  <dd data-figure="notified">{s.notified}</dd>
                </div>
              )}
              <div>
                <dt>Held back</dt>
                <dd data-figure="held-back">{s.heldBack.reduce((a, h) => a + h.devices, 0)}</dd>
              </div>
            </dl>
            {s.versions.length > 0 && (
              <>
                <h3>Versions running</h3>
                <ul class="inline" aria-label="Devices per version">
                  {s.versions.map((v) => (
                    <li key={v.version ?? 'unknown'} data-version={v.version ?? 'unknown'}>
                      {v.version ?? 'unknown (not reported yet)'}: {v.devices}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </Section>
          <Section title="Devices held back and why" id="held-back">
            {s.heldBack.length === 0 ? (
              <p>No device is held back{s.releaseId ? '' : ' (no release to judge against)'}.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Reason</th>
                    <th scope="col">Devices</th>
                  </tr>
                </thead>
                <tbody>
                  {s.heldBack.map((h) => (
                    <tr key={h.code} data-held-back={h.code}>
                      <td>
                        <code>{h.code}</code> <span class="muted">{REASONS[h.code] ?? ''}</span>
                      </td>
                      <td data-devices>{h.devices}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {s.renewalOpportunities.length > 0 && (
              <>
                <h3>Renewal opportunities (lapsed maintenance)</h3>
                <ul>
                  {s.renewalOpportunities.slice(0, 10).map((r) => (
                    <li key={r.accountId} data-renewal-account={r.accountId}>
                      <Link href={`/console/customers/${r.accountId}`}>{r.account.name}</Link>: {r.devices} device(s)
                    </li>
                  ))}
                </ul>
              </>
            )}
          </Section>
          {s.releaseId && ops && (
            <RolloutCard
              release={s.releaseId}
              version={s.version ?? ''}
              canAct={canAct}
              onChanged={(what) => {
                setChanged(what);
                q.reload();
              }}
            />
          )}
          {!ops && <p class="muted">Rollouts and device groups are for ADMIN, OPERATIONS and INTEGRATION keys.</p>}
          <Section title="Releases" id="releases" wide>
            {q.data.releases.length === 0 ? (
              <p>No release of this product yet.</p>
            ) : (
              <Scroll>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Channel</th>
                      <th scope="col">Status</th>
                      <th scope="col">Release date</th>
                      <th scope="col">Needs features</th>
                      <th scope="col">Fleet</th>
                    </tr>
                  </thead>
                  <tbody>
                    {q.data.releases.map((r) => (
                      <tr key={r.id} data-release-id={r.id} data-status={r.status}>
                        <td>{r.version}</td>
                        <td>{r.channel}</td>
                        <td>
                          {r.status}
                          {r.yankReason && <span class="muted"> · {r.yankReason}</span>}
                        </td>
                        <td>{date(r.releaseDate)}</td>
                        <td>{r.requiredFeatures.length ? r.requiredFeatures.join(', ') : '–'}</td>
                        <td>
                          {r.id === s.releaseId ? (
                            <span class="muted">shown above</span>
                          ) : r.status === 'PUBLISHED' ? (
                            <button type="button" class="link" onClick={() => onRelease(r.id)} aria-label={`Judge fleet against ${r.version}`}>
                              Judge fleet
                            </button>
                          ) : (
                            '–'
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Scroll>
            )}
            {canAct && published.length > 0 && (
              <form class="filters" aria-label="Yank a release" onSubmit={(ev) => (ev.preventDefault(), void yank())}>
                <label>
                  Release to yank
                  <select name="yank-version" value={yankTarget} onChange={(e) => setYankVersion((e.target as HTMLSelectElement).value)}>
                    {published.map((r) => (
                      <option key={r.id} value={r.version}>
                        {r.version}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  Why (required)
                  <input name="yank-reason" maxLength={500} size={30} value={yankReason} onInput={(e) => setYankReason((e.target as HTMLInputElement).value)} />
                </label>
                <button type="submit" data-action="yank" disabled={yanking}>
                  Yank {yankTarget}
                </button>
                {yankError && (
                  <p role="alert" data-yank-error>
                    {yankError}
                  </p>
                )}
              </form>
            )}
          </Section>
          {q.data.deviceGroups && (
            <Section title="Device groups" id="groups">
              {q.data.deviceGroups.length === 0 ? (
                <p>No device group: a rollout can still go by percentage (setDeviceGroup puts devices in one).</p>
              ) : (
                <ul>
                  {q.data.deviceGroups.map((g) => (
                    <li key={g.group} data-group={g.group}>
                      {g.group}: {g.devices} device(s)
                    </li>
                  ))}
                </ul>
              )}
            </Section>
          )}
        </div>
      )}
    </>
  );
}

function RolloutCard({ release, version, canAct, onChanged }: { release: string; version: string; canAct: boolean; onChanged: (what: string) => void }) {
  const q = useQuery(ROLLOUT, { release }, [release]);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  const [plan, setPlan] = useState({ stages: '', groups: '', threshold: '10', minReports: '20', autoAdvance: true });
  /** One rollout change: what it did is said above the page (onChanged); a failure here, as "Not <verb>: …". */
  async function act(verb: string, call: () => Promise<string>) {
    setBusy(true);
    setMsg(null);
    try {
      onChanged(await call());
    } catch (e) {
      setMsg(`Not ${verb}: ${failureText(e)}`);
    } finally {
      setBusy(false);
    }
  }
  const change = (r: RolloutView) =>
    act('changed', async () => {
      if (r.status === 'HALTED') {
        const a = (await gql(RESUME_ROLLOUT, { release })).data.resumeRollout;
        return `Rollout of ${version} ${a.status === 'ACTIVE' ? 'resumed' : a.status} at stage ${a.stage + 1}.`;
      }
      const a = (await gql(HALT_ROLLOUT, { release, reason: reason.trim() || null })).data.haltRollout;
      setReason('');
      return `Rollout of ${version} ${a.status.toLowerCase()}: ${a.haltedReason ?? ''}`;
    });
  /** Starts a staged rollout (startRollout); blank fields take the API's defaults. */
  function start() {
    const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);
    const input: StartRolloutVars = { release, autoAdvance: plan.autoAdvance };
    if (plan.stages.trim()) {
      const stages = list(plan.stages).map(Number);
      if (stages.some((p) => !Number.isInteger(p))) {
        setMsg('Not started: stages are whole percentages separated by commas, e.g. 10, 50, 100.');
        return;
      }
      input.stages = stages;
    }
    if (plan.groups.trim()) input.groups = list(plan.groups);
    if (plan.threshold.trim()) input.failureThreshold = Number(plan.threshold) / 100;
    if (plan.minReports.trim()) input.minReports = Number(plan.minReports);
    void act('started', async () => {
      const a = (await gql(START_ROLLOUT, { input })).data.startRollout;
      return `Rollout of ${version} started: stage ${a.stage + 1} of ${a.stages.length} (${a.percent} %).`;
    });
  }
  /** To the next stage now (advanceRollout), without waiting for the reports an automatic advance waits for. */
  const advance = (r: RolloutView) =>
    act('advanced', async () => {
      const a = (await gql(ADVANCE_ROLLOUT, { release })).data.advanceRollout;
      return `Rollout of ${version} advanced to stage ${a.stage + 1} of ${a.stages.length} (${a.percent} %, was ${r.percent} %).`;
    });
  const r = q.data?.rollout;
  return (
    <Section title={`Rollout of ${version}`} id="rollout">
      {q.loading && <Loading what="the rollout" />}
      {q.error && <ErrorBox error={q.error} what="rollout" />}
      {msg && (
        <p role="status" data-action-error>
          {msg}
        </p>
      )}
      {q.data && !q.loading && !r && <p data-rollout="none">No staged rollout: the release is offered to every entitled device.</p>}
      {q.data && !q.loading && !r && canAct && (
        <form class="filters" aria-label="Start a staged rollout" onSubmit={(ev) => (ev.preventDefault(), start())}>
          <label>
            Stages (%)
            <input name="stages" size={14} value={plan.stages} placeholder="10, 50, 100" onInput={(e) => setPlan({ ...plan, stages: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            Device groups first
            <input name="groups" size={14} value={plan.groups} placeholder="none" onInput={(e) => setPlan({ ...plan, groups: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            Halt at failures (%)
            <input name="threshold" type="number" min={1} max={100} step="any" value={plan.threshold} onInput={(e) => setPlan({ ...plan, threshold: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            Reports before judging
            <input name="min-reports" type="number" min={1} value={plan.minReports} onInput={(e) => setPlan({ ...plan, minReports: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            <span>
              <input name="auto-advance" type="checkbox" checked={plan.autoAdvance} onChange={(e) => setPlan({ ...plan, autoAdvance: (e.target as HTMLInputElement).checked })} /> Advance on its own
            </span>
          </label>
          <button type="submit" data-action="start" disabled={busy}>
            Start rollout of {version}
          </button>
        </form>
      )}
      {r && !q.loading && (
        <div data-rollout={r.status}>
          <dl class="figures">
            <div>
              <dt>Status</dt>
              <dd data-figure="rollout-status">
                <span class={r.status === 'HALTED' ? 'band band-red' : 'band band-green'}>{r.status}</span>
              </dd>
            </div>
            <div>
              <dt>Stage</dt>
              <dd data-figure="rollout-stage">
                {r.stage + 1} of {r.stages.length} ({r.percent} %)
              </dd>
            </div>
            <div>
              <dt>Admitted</dt>
              <dd data-figure="rollout-admitted">
                {r.devicesAdmitted} / {r.devicesTotal}
              </dd>
            </div>
            <div>
              <dt>Installed / failed</dt>
              <dd data-figure="rollout-outcomes">
                {r.installed} / {r.failed}
              </dd>
            </div>
          </dl>
          <p class="muted">
            Stages {r.stages.map((p) => `${p} %`).join(' → ')}
            {r.groups.length > 0 && ` after the groups ${r.groups.join(', ')}`}; halts on its own at {(r.failureThreshold * 100).toFixed(0)} % failures after {r.minReports} reports;
            {r.autoAdvance ? ' advances on its own' : ' advanced by hand'}. Started {dateTime(r.startedAt)}, this stage since {dateTime(r.stageStartedAt)}.
          </p>
          {r.status === 'HALTED' && (
            <p data-halted-reason>
              Halted {dateTime(r.haltedAt)}: {r.haltedReason}
            </p>
          )}
          {canAct && (
            <form class="filters" aria-label="Halt, resume or advance the rollout" onSubmit={(ev) => (ev.preventDefault(), void change(r))}>
              {r.status !== 'HALTED' && (
                <label>
                  Reason to halt
                  <input name="halt-reason" maxLength={500} size={30} value={reason} placeholder="halted by an operator" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
                </label>
              )}
              <button type="submit" data-action={r.status === 'HALTED' ? 'resume' : 'halt'} disabled={busy}>
                {r.status === 'HALTED' ? 'Resume rollout' : 'Halt rollout'}
              </button>
              {r.status === 'ACTIVE' && r.stage < r.stages.length - 1 && (
                <button type="button" data-action="advance" disabled={busy} onClick={() => void advance(r)}>
                  Advance to {r.stages[r.stage + 1]} %
                </button>
              )}
            </form>
          )}
        </div>
      )}
    </Section>
  );
}
