import fs from 'node:fs';
import path from 'node:path';
import type { EntityManager } from 'typeorm';
import { DomainEvents, type DomainEvent } from './events';

const manager = {} as EntityManager;

describe('DomainEvents', () => {
  it('hands a transaction\'s facts to every subscriber in order, and calls none when nothing was published', async () => {
    const events = new DomainEvents();
    const seen: string[] = [];
    events.subscribe('a', async (_m, e) => void seen.push(`a:${e.map((x) => x.kind).join(',')}`));
    events.subscribe('b', async (_m, e) => void seen.push(`b:${e.length}`));
    await events.dispatch(manager, []);
    expect(seen).toEqual([]);
    const facts: DomainEvent[] = [
      { kind: 'usage.recorded', accountIds: ['x'] },
      { kind: 'findings.changed', accountId: 'x' },
    ];
    await events.dispatch(manager, facts);
    expect(seen).toEqual(['a:usage.recorded,findings.changed', 'b:2']);
  });

  it('subscribing a name again replaces the earlier subscriber (services built twice on one Db act once)', async () => {
    const events = new DomainEvents();
    let first = 0;
    let second = 0;
    events.subscribe('sync-outbox', async () => void first++);
    events.subscribe('sync-outbox', async () => void second++);
    await events.dispatch(manager, [{ kind: 'account.linked', accountId: 'x' }]);
    expect({ first, second }).toEqual({ first: 0, second: 1 });
  });

  it('a failing subscriber fails the dispatch (and so the transaction: nothing is committed half done)', async () => {
    const events = new DomainEvents();
    events.subscribe('boom', async () => {
      throw new Error('outbox unavailable');
    });
    await expect(events.dispatch(manager, [{ kind: 'account.linked', accountId: 'x' }])).rejects.toThrow('outbox unavailable');
  });
});

describe('layering', () => {
  it('no domain imports the sync engine or the webhooks: they subscribe to published facts instead', () => {
    const src = path.resolve(__dirname, '..');
    // Consumers may import the engine: they are not imported by it (no cycle). customer360 is a
    // read model over every domain, the sync status of an account included.
    const consumers = new Set(['sync', 'webhooks', 'server', 'cli', 'db', 'customer360']);
    const offenders: string[] = [];
    for (const dir of fs.readdirSync(src, { withFileTypes: true })) {
      if (!dir.isDirectory() || consumers.has(dir.name)) continue;
      for (const file of fs.readdirSync(path.join(src, dir.name))) {
        if (!file.endsWith('.ts')) continue;
        const text = fs.readFileSync(path.join(src, dir.name, file), 'utf8');
        if (/from '\.\.\/(sync|webhooks)\//.test(text)) offenders.push(`${dir.name}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
