import { migrations } from '../../migrations';

/**
 * TypeORM runs migrations in timestamp order whatever the array says, and backups name the
 * last one as the schema level: the list must be in that order, or a backup's header and
 * the code disagree (helpers landing in parallel appended theirs out of order once).
 */
describe('migrations/index.ts', () => {
  it('lists the migrations in timestamp order, each once', () => {
    const stamps = migrations.map((m) => Number(/(\d{13})$/.exec(m.name)![1]));
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    expect(new Set(stamps).size).toBe(stamps.length);
  });
});
