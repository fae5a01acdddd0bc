import { slowStatements } from '../../bench/support/slow-statements';

/** Two auto_explain entries of one statement and one of another, as PostgreSQL logs them (text format, log_analyze). */
const LOG = `2026-12-05 12:18:49.457 UTC [6886] postgres@db LOG:  duration: 101.475 ms  plan:
	Query Text: WITH ev AS (
	  SELECT x.i FROM json_to_recordset($1::json) AS x(i int)
	)
	SELECT 1
	Hash Anti Join  (cost=29.04..40.47 rows=1 width=36) (actual time=7.951..8.297 rows=51 loops=1)
	  ->  Nested Loop Left Join  (cost=14.19..17.36 rows=1 width=425) (actual time=3.232..71.753 rows=949 loops=1)
	        ->  Unique  (cost=10.44..10.45 rows=1 width=38) (actual time=0.003..0.055 rows=504 loops=949)
2026-12-05 12:18:49.573 UTC [6886] postgres@db LOG:  duration: 50.5 ms  plan:
	Query Text: WITH ev AS (
	  SELECT x.i FROM json_to_recordset($1::json) AS x(i int)
	)
	SELECT 1
	Hash Anti Join  (cost=29.04..40.47 rows=1 width=36) (actual time=7.951..8.297 rows=51 loops=1)
2026-12-05 12:19:00.000 UTC [6900] postgres@db LOG:  statement: SELECT 2
2026-12-05 12:19:01.000 UTC [6901] postgres@db LOG:  duration: 30.0 ms  plan:
	Query Text: SELECT * FROM entitlement e WHERE e.order_id = ANY($1)
	Seq Scan on entitlement e  (cost=0.00..6053.95 rows=494 width=380) (actual time=15.991..30.212 rows=10 loops=1)
	  Filter: (order_id = ANY ('{07cba27a-0991-4f1c-ae3f-21e31bfad21d}'::uuid[]))
	  Rows Removed by Filter: 182600
`;

describe('slowStatements (npm run bench:slow)', () => {
  it('groups plans by statement, slowest total first, with the scans and loops that explain them', () => {
    const found = slowStatements(LOG);
    expect(found.map((s) => [s.statement, s.count, Math.round(s.totalMs * 10) / 10, s.maxMs])).toEqual([
      ['WITH ev AS ( SELECT x.i FROM json_to_recordset($1::json) AS x(i int) ) SELECT 1', 2, 152, 101.475],
      ['SELECT * FROM entitlement e WHERE e.order_id = ANY($1)', 1, 30, 30],
    ]);
    expect(found[0]!.hints).toEqual(['Unique: 478,296 rows over 949 loops']);
    expect(found[1]!.hints).toEqual(['Seq Scan on entitlement: 182,610 rows read']);
  });

  it('finds nothing in a log without auto_explain plans', () => {
    expect(slowStatements('2026-12-05 LOG:  statement: SELECT 1\n')).toEqual([]);
  });
});
