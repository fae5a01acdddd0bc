import { messageId } from './usage.stream';
import type { UsageEventDraft } from './usage.rules';

const draft = (id: string, over: Partial<UsageEventDraft> = {}): UsageEventDraft => ({
  index: 0,
  id,
  source: 'default',
  accountId: '0f0e0d0c-0b0a-4009-8807-060504030201',
  accountRef: null,
  meter: 'api.calls',
  quantity: '1',
  occurredAt: '2026-12-01T00:00:00.000Z',
  deployment: 'CLOUD' as UsageEventDraft['deployment'],
  user: null,
  device: null,
  properties: null,
  hash: `h-${id}`,
  ...over,
});

/** JetStream deduplicates on these ids: a re-sent batch must get the same one, any other batch another. */
describe('usage stream message id', () => {
  const principal = { keyId: 'k', name: 'n', role: 'INTEGRATION' as never, accountId: null };

  it('is the same for the same events, whatever their positions in the body or the key that sends them', () => {
    const a = messageId(principal, [draft('1'), draft('2')]);
    expect(messageId({ ...principal, keyId: 'other' }, [draft('1', { index: 5 }), draft('2', { index: 6 })])).toBe(a);
    expect(a).toMatch(/^usage-[A-Za-z0-9_-]{43}$/);
  });

  it('differs when an event, its content, source, account or the key scope differ', () => {
    const a = messageId(principal, [draft('1'), draft('2')]);
    const others = [
      messageId(principal, [draft('1')]),
      messageId(principal, [draft('2'), draft('1')]),
      messageId(principal, [draft('1'), draft('2', { hash: 'changed' })]),
      messageId(principal, [draft('1'), draft('2', { source: 'agent' })]),
      messageId(principal, [draft('1'), draft('2', { accountId: null, accountRef: { system: 'sf', object: 'Account', externalId: 'x' } })]),
      messageId({ ...principal, accountId: '0f0e0d0c-0b0a-4009-8807-060504030201' }, [draft('1'), draft('2')]),
    ];
    expect(new Set([a, ...others]).size).toBe(others.length + 1);
  });
});
