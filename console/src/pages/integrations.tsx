import { useState } from 'preact/hooks';
import { failureText, gql } from '../api';
import type { Viewer } from '../operations';
import {
  CONFIRM_MATCH,
  INTEGRATIONS,
  MATCH_ACT_ROLES,
  REJECT_MATCH,
  REPLAY_DEAD_OUTBOX_ITEMS,
  REPLAY_OUTBOX_ITEM,
  REPLAY_ROLES,
  REPLAY_WEBHOOK_DELIVERY,
  SYNC_READ_ROLES,
  type MatchRow,
  type OutboxRow,
  type SyncRunRow,
} from '../operations-integrations';
import { dateTime } from '../format';
import { ErrorBox, GraphiQLLink, Link, Loading, Pager, Scroll, Section, useQuery } from '../ui';


function counts(r: SyncRunRow): string {
  return `${r.read} read · ${r.created} created · ${r.updated} updated · ${r.unchanged} unchanged · ${r.deleted} deleted · ${r.failed} failed`;
}

function RunStatus({ status }: { status: string }) {
  const cls = status === 'SUCCEEDED' ? 'band band-green' : status === 'FAILED' ? 'band band-red' : status === 'PARTIAL' ? 'band band-yellow' : 'band band-info';
  return <span class={cls}>{status}</span>;
}

/**
 * Integrations: sync connections with their last run, the latest runs, the outbox's dead letters
 * (with their reasons) and backlog, dead webhook deliveries (ADMIN, OPERATIONS read these; ADMIN
 * replays), and the identity review queue (every unscoped key reads it; ADMIN and OPERATIONS
 * confirm or reject, a rejection with a reason).
 */
export function Integrations({ viewer }: { viewer: Viewer }) {
  const ops = SYNC_READ_ROLES.includes(viewer.role);
  const canReplay = REPLAY_ROLES.includes(viewer.role) && !viewer.accountId;
  const canDecide = MATCH_ACT_ROLES.includes(viewer.role) && !viewer.accountId;
  // Cursors of the dead-letter pages before this one (a stack) and this page's.
  const [deadCursors, setDeadCursors] = useState<(string | null)[]>([null]);
  const deadAfter = deadCursors[deadCursors.length - 1]!;
  const variables = { ops, deadAfter };
  const q = useQuery(INTEGRATIONS, variables, [deadAfter]);
  const [busy, setBusy] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [reasons, setReasons] = useState<Record<string, string>>({});

  async function act(id: string, what: () => Promise<string>) {
    setBusy(id);
    setMsg(null);
    try {
      setMsg(await what());
      q.reload();
    } catch (e) {
      setMsg(`Not done: ${failureText(e)}`);
    } finally {
      setBusy(null);
    }
  }

  const replayItem = (o: OutboxRow) =>
    act(o.id, async () => {
      const r = await gql(REPLAY_OUTBOX_ITEM, { id: o.id });
      return `Dead letter ${o.object} ${o.recordKey} queued again: ${r.data.replayOutboxItem.status}.`;
    });
  const replayAll = (connectionId: string, name: string) =>
    act(connectionId, async () => {
      const r = await gql(REPLAY_DEAD_OUTBOX_ITEMS, { connectionId });
      return `${r.data.replayDeadOutboxItems} dead letter(s) of ${name} queued again.`;
    });
  const replayWebhook = (id: string, eventType: string) =>
    act(id, async () => {
      const r = await gql(REPLAY_WEBHOOK_DELIVERY, { id });
      return `Webhook delivery ${eventType} queued again: ${r.data.replayWebhookDelivery.status}.`;
    });
  const pair = (m: MatchRow) => `${m.accountA.name} and ${m.accountB.name}`;
  const confirm = (m: MatchRow) =>
    act(m.id, async () => {
      const reason = reasons[m.id]?.trim() || null;
      const r = await gql(CONFIRM_MATCH, { id: m.id, reason });
      return `Match of ${pair(m)} ${r.data.confirmMatch.status.toLowerCase()}: the accounts were merged.`;
    });
  const reject = (m: MatchRow) => {
    const reason = reasons[m.id]?.trim();
    if (!reason) {
      setMsg(`Not rejected: a rejection needs a reason (type it in the row of ${pair(m)}).`);
      document.getElementById(`reason-${m.id}`)?.focus();
      return;
    }
    void act(m.id, async () => {
      const r = await gql(REJECT_MATCH, { id: m.id, reason });
      return `Match of ${pair(m)} ${r.data.rejectMatch.status.toLowerCase()}; the pair is not proposed again.`;
    });
  };

  const d = q.data;
  const connName = new Map((d?.syncConnections?.edges ?? []).map(({ node: c }) => [c.id, c.name]));

  return (
    <>
      <div class="page-head">
        <h1>Integrations</h1>
        <GraphiQLLink d={INTEGRATIONS} variables={variables} />
      </div>
      {!ops && (
        <p class="muted" data-note="review-only">
          Connections, sync runs and the outbox are for ADMIN and OPERATIONS keys; your key sees the identity review queue, read only.
        </p>
      )}
      {q.loading && <Loading what="integrations" />}
      {q.error && <ErrorBox error={q.error} what="integrations" />}
      {msg && (
        <p role="status" data-action-message>
          {msg}
        </p>
      )}
      {d && !q.loading && (
        <div class="grid" data-loaded="integrations">
          {d.syncConnections && (
            <Section title="Connections" id="connections" wide>
              {d.syncConnections.edges.length === 0 ? (
                <p>No sync connection yet: create one with createSyncConnection (docs/sync.md).</p>
              ) : (
                <Scroll>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Name</th>
                        <th scope="col">Type</th>
                        <th scope="col">State</th>
                        <th scope="col">Last run</th>
                        <th scope="col">Dead letters</th>
                        {canReplay && <th scope="col">Actions</th>}
                      </tr>
                    </thead>
                    <tbody>
                      {d.syncConnections.edges.map(({ node: c }) => {
                        const r = c.lastRun;
                        // All of the connection's dead letters (the list below shows the oldest 25 of every connection).
                        const dead = c.deadLetters;
                        return (
                          <tr key={c.id} data-connection-id={c.id}>
                            <td>{c.name}</td>
                            <td>{c.type}</td>
                            <td>
                              {c.enabled ? 'enabled' : 'disabled'}
                              <span class="muted">
                                {' '}
                                · pull {c.pullEnabled ? 'on' : 'off'} · push {c.pushEnabled ? 'on' : 'off'} · {c.maxAttempts} attempts
                              </span>
                            </td>
                            <td data-last-run>
                              {r ? (
                                <>
                                  <RunStatus status={r.status} /> {r.kind.toLowerCase()} {r.object} <span class="muted">{dateTime(r.startedAt)}</span>
                                </>
                              ) : (
                                <span class="muted">never ran</span>
                              )}
                            </td>
                            <td data-dead-count>{dead}</td>
                            {canReplay && (
                              <td class="actions">
                                {dead > 0 && (
                                  <button type="button" data-action="replay-all" disabled={busy !== null} onClick={() => replayAll(c.id, c.name)} aria-label={`Replay all dead letters of ${c.name}`}>
                                    Replay all dead
                                  </button>
                                )}
                              </td>
                            )}
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </Scroll>
              )}
            </Section>
          )}
          {d.dead && (
            <Section title="Dead letters (outbox)" id="dead-letters" wide>
              <p>
                <span data-figure="dead">{d.dead.totalCount}</span> dead · <span data-figure="backlog">{d.backlog?.totalCount ?? 0}</span> waiting (pending, in flight, submitted or failed)
                {d.dead.totalCount > d.dead.edges.length && (
                  <span class="muted" data-showing>
                    {' '}
                    · showing {(deadCursors.length - 1) * 25 + 1}–{(deadCursors.length - 1) * 25 + d.dead.edges.length}, oldest first (page {deadCursors.length})
                  </span>
                )}
              </p>
              {d.dead.edges.length === 0 ? (
                <p>No dead letter: every item was delivered or is still being retried.</p>
              ) : (
                <Scroll>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Connection</th>
                        <th scope="col">Record</th>
                        <th scope="col">Account</th>
                        <th scope="col">Attempts</th>
                        <th scope="col">Reason</th>
                        <th scope="col">Dead since</th>
                        {canReplay && <th scope="col">Actions</th>}
                      </tr>
                    </thead>
                    <tbody>
                      {d.dead.edges.map(({ node: o }) => (
                        <tr key={o.id} data-outbox-id={o.id} data-status={o.status}>
                          <td>{connName.get(o.connectionId) ?? o.connectionId.slice(0, 8)}</td>
                          <td>
                            {o.object} <span class="muted">{o.recordKey}</span>
                          </td>
                          <td>{o.accountId ? <Link href={`/console/customers/${o.accountId}`}>{o.accountId.slice(0, 8)}</Link> : '–'}</td>
                          <td>{o.attempts}</td>
                          <td data-reason>
                            {o.lastErrorCode && !o.lastError?.startsWith(o.lastErrorCode) && <code>{o.lastErrorCode} </code>}
                            {o.lastError}
                          </td>
                          <td>{dateTime(o.deadAt)}</td>
                          {canReplay && (
                            <td class="actions">
                              <button type="button" data-action="replay" disabled={busy !== null} onClick={() => replayItem(o)} aria-label={`Replay ${o.object} ${o.recordKey}`}>
                                Replay
                              </button>
                            </td>
                          )}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </Scroll>
              )}
              <Pager
                label="Dead letter pages"
                hasPrevious={deadCursors.length > 1}
                hasNext={d.dead.pageInfo.hasNextPage}
                onPrevious={() => setDeadCursors(deadCursors.slice(0, -1))}
                onNext={() => setDeadCursors([...deadCursors, d.dead!.pageInfo.endCursor])}
              />
              {!canReplay && d.dead.edges.length > 0 && <p class="muted">Replaying is for ADMIN keys.</p>}
            </Section>
          )}
          {d.syncRuns && (
            <Section title="Latest sync runs" id="runs" wide>
              {d.syncRuns.edges.length === 0 ? (
                <p>No sync run yet.</p>
              ) : (
                <Scroll>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Started</th>
                        <th scope="col">Connection</th>
                        <th scope="col">Run</th>
                        <th scope="col">Status</th>
                        <th scope="col">Counts</th>
                        <th scope="col">API calls</th>
                        <th scope="col">Duration</th>
                        <th scope="col">Errors</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.syncRuns.edges.map(({ node: r }) => (
                        <tr key={r.id} data-run-id={r.id} data-status={r.status}>
                          <td>{dateTime(r.startedAt)}</td>
                          <td>{connName.get(r.connectionId) ?? r.connectionId.slice(0, 8)}</td>
                          <td>
                            {r.kind.toLowerCase()} {r.object} <span class="muted">({r.trigger.toLowerCase()})</span>
                          </td>
                          <td>
                            <RunStatus status={r.status} />
                          </td>
                          <td data-counts>{counts(r)}</td>
                          <td>{r.apiCalls}</td>
                          <td>{r.durationMs === null ? (r.status === 'RUNNING' ? 'running' : '–') : `${r.durationMs} ms`}</td>
                          <td>
                            {r.error && <span>{r.error}</span>}
                            {r.errors.slice(0, 3).map((e, i) => (
                              <div key={i}>
                                {!e.message.startsWith(e.code) && <code>{e.code} </code>}
                                {e.message}
                                {e.record && <span class="muted"> ({e.record})</span>}
                              </div>
                            ))}
                            {r.errors.length > 3 && <span class="muted">and {r.errors.length - 3} more</span>}
                            {!r.error && r.errors.length === 0 && '–'}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </Scroll>
              )}
            </Section>
          )}
          {d.webhookDeliveries && (
            <Section title="Dead webhook deliveries" id="webhooks-dead" wide>
              {d.webhookDeliveries.edges.length === 0 ? (
                <p>No dead webhook delivery.</p>
              ) : (
                <Scroll>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Endpoint</th>
                        <th scope="col">Event</th>
                        <th scope="col">Reason</th>
                        {canReplay && <th scope="col">Actions</th>}
                      </tr>
                    </thead>
                    <tbody>
                      {d.webhookDeliveries.edges.map(({ node: w }) => (
                        <tr key={w.id} data-webhook-delivery-id={w.id}>
                          <td>{w.endpoint.url}</td>
                          <td>{w.eventType}</td>
                          <td>
                            {w.lastStatusCode !== null && <code>HTTP {w.lastStatusCode}</code>} {w.lastError} <span class="muted">({w.attemptCount} attempts)</span>
                          </td>
                          {canReplay && (
                            <td class="actions">
                              <button type="button" data-action="replay-webhook" disabled={busy !== null} onClick={() => replayWebhook(w.id, w.eventType)} aria-label={`Replay webhook ${w.eventType} to ${w.endpoint.url}`}>
                                Replay
                              </button>
                            </td>
                          )}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </Scroll>
              )}
            </Section>
          )}
          <Section title="Identity review queue" id="identity" wide>
            <p>
              <span data-figure="matches">{d.identityMatches.totalCount}</span> pending match(es): pairs of accounts that may be the same customer, below the auto-merge threshold.
              {d.identityMatches.totalCount > d.identityMatches.edges.length && <span class="muted"> Showing the oldest {d.identityMatches.edges.length}.</span>}
            </p>
            {d.identityMatches.edges.length === 0 ? (
              <p>The review queue is empty.</p>
            ) : (
              <Scroll>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Account A</th>
                      <th scope="col">Account B</th>
                      <th scope="col">Confidence</th>
                      <th scope="col">Evidence</th>
                      <th scope="col">Proposed</th>
                      {canDecide && <th scope="col">Decision</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {d.identityMatches.edges.map(({ node: m }) => (
                      <tr key={m.id} data-match-id={m.id}>
                        {[m.accountA, m.accountB].map((a) => (
                          <td key={a.id}>
                            <Link href={`/console/customers/${a.id}`}>{a.name}</Link>
                            <span class="muted"> {[a.domain, a.country].filter(Boolean).join(' · ')}</span>
                          </td>
                        ))}
                        <td data-confidence>{(m.confidence * 100).toFixed(0)} %</td>
                        <td>
                          {m.evidence.map((e) => (
                            <div key={e.rule}>
                              <code>{e.rule}</code> {e.value} <span class="muted">({e.score.toFixed(2)})</span>
                            </div>
                          ))}
                        </td>
                        <td>{dateTime(m.createdAt)}</td>
                        {canDecide && (
                          <td class="actions">
                            <input
                              id={`reason-${m.id}`}
                              name="reason"
                              maxLength={2000}
                              size={22}
                              aria-label={`Reason for deciding ${pair(m)}`}
                              placeholder="Reason (needed to reject)"
                              value={reasons[m.id] ?? ''}
                              onInput={(e) => setReasons({ ...reasons, [m.id]: (e.target as HTMLInputElement).value })}
                            />{' '}
                            <button type="button" data-action="confirm" disabled={busy !== null} onClick={() => confirm(m)} aria-label={`Confirm: merge ${pair(m)}`}>
                              Confirm
                            </button>
                            <button type="button" data-action="reject" disabled={busy !== null} onClick={() => reject(m)} aria-label={`Reject the match of ${pair(m)}`}>
                              Reject
                            </button>
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Scroll>
            )}
          </Section>
        </div>
      )}
    </>
  );
}
