/**
 * Groups the plans PostgreSQL's `auto_explain` wrote to a server log (text format, as
 * `log_analyze` writes them) by statement, slowest total first, with what in each plan
 * usually explains the time: sequential scans that threw rows away, and nodes run many
 * times over many rows (a nested loop re-reading a set). See docs/benchmarks.md, "Finding
 * slow statements".
 */
export interface SlowStatement {
  /** The statement's text, whitespace collapsed, cut to `width` characters. */
  statement: string;
  count: number;
  totalMs: number;
  maxMs: number;
  /** The largest per kind, e.g. `Seq Scan on entitlement_event: 182,652 rows read`, `Unique: 478,296 rows over 949 loops`. */
  hints: string[];
}

const ENTRY = /duration: ([\d.]+) ms\s+plan:/;
const SEQ = /Seq Scan on (\S+)/;
const REMOVED = /Rows Removed by Filter: (\d+)/;
const NODE = /^\s*(?:->\s+)?([A-Za-z][A-Za-z ]*?)\s+(?:on \S+ \S+\s+|using \S+ on \S+(?: \S+)?\s+)?\(cost=[^)]*\) \(actual (?:time=[\d.]+\.\.[\d.]+ )?rows=(\d+) loops=(\d+)\)/;

export function slowStatements(log: string, width = 140): SlowStatement[] {
  const byText = new Map<string, SlowStatement>();
  let current: { ms: number; lines: string[] } | null = null;
  const flush = () => {
    if (!current) return;
    const text = current.lines.join('\n');
    const q = /Query Text:([\s\S]*?)(?:\n\s*(?:[A-Z][A-Za-z ]+ {2}\(cost=|[A-Z][A-Za-z ]+ on \S+ \S+ {2}\(cost=|Insert on|Update on|Delete on|Result {2}\(cost=))/.exec(text);
    const statement = (q ? q[1]! : text).replace(/\s+/g, ' ').trim().slice(0, width);
    const entry = byText.get(statement) ?? { statement, count: 0, totalMs: 0, maxMs: 0, hints: [] };
    byText.set(statement, entry);
    entry.count++;
    entry.totalMs += current.ms;
    entry.maxMs = Math.max(entry.maxMs, current.ms);
    const lines = current.lines;
    for (let i = 0; i < lines.length; i++) {
      const node = NODE.exec(lines[i]!);
      const rows = node ? Number(node[2]) : 0;
      const loops = node ? Number(node[3]) : 0;
      const seq = SEQ.exec(lines[i]!);
      if (seq) {
        // Rows read: those returned and those the filter threw away (per loop).
        const removed = lines.slice(i + 1, i + 4).map((l) => REMOVED.exec(l)).find(Boolean);
        const read = (rows + (removed ? Number(removed[1]) : 0)) * Math.max(1, loops);
        if (read >= 10_000) raise(entry, `Seq Scan on ${seq[1]}`, read, 'rows read');
      } else if (node && rows >= 100 && loops >= 100) {
        raise(entry, node[1]!, rows * loops, `rows over ${loops.toLocaleString('en-US')} loops`);
      }
    }
    current = null;
  };
  for (const line of log.split('\n')) {
    const m = ENTRY.exec(line);
    if (m) {
      flush();
      current = { ms: Number(m[1]), lines: [] };
    } else if (current) current.lines.push(line);
  }
  flush();
  return [...byText.values()].sort((a, b) => b.totalMs - a.totalMs);
}

/** Keeps, per kind of hint (`Seq Scan on t`, a node type), the largest figure seen. */
function raise(entry: SlowStatement, what: string, n: number, unit: string): void {
  const at = entry.hints.findIndex((h) => h.startsWith(`${what}: `));
  const old = at >= 0 ? Number(entry.hints[at]!.slice(what.length + 2).split(' ')[0]!.replace(/,/g, '')) : -1;
  if (n <= old) return;
  const hint = `${what}: ${n.toLocaleString('en-US')} ${unit}`;
  if (at >= 0) entry.hints[at] = hint;
  else entry.hints.push(hint);
}
