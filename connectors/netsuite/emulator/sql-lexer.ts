/**
 * A character-by-character SQL lexer for the emulator's SuiteQL front end. It does not parse;
 * it only rewrites two tokens SQLite cannot take as they are: the table name `transaction`
 * (an SQLite keyword, quoted as an identifier) and `BUILTIN.DF(` (a dotted function name,
 * renamed `BUILTIN_DF(`). Strings, quoted identifiers and comments pass through untouched.
 */
export function rewriteSuiteQl(q: string, fold?: (fn: string, args: string[]) => string | null): string {
  let out = '';
  let i = 0;
  const n = q.length;
  const isWordStart = (c: string): boolean => /[A-Za-z_]/.test(c);
  const isWord = (c: string): boolean => /[A-Za-z0-9_$#]/.test(c);
  while (i < n) {
    const c = q[i];
    if (c === "'") {
      let j = i + 1;
      while (j < n) {
        if (q[j] === "'" && q[j + 1] === "'") j += 2;
        else if (q[j] === "'") break;
        else j++;
      }
      out += q.slice(i, j + 1);
      i = j + 1;
    } else if (c === '"') {
      const j = q.indexOf('"', i + 1);
      const end = j < 0 ? n : j + 1;
      out += q.slice(i, end);
      i = end;
    } else if (c === '-' && q[i + 1] === '-') {
      const j = q.indexOf('\n', i);
      const end = j < 0 ? n : j;
      out += q.slice(i, end);
      i = end;
    } else if (c === '/' && q[i + 1] === '*') {
      const j = q.indexOf('*/', i + 2);
      const end = j < 0 ? n : j + 2;
      out += q.slice(i, end);
      i = end;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWord(q[j])) j++;
      const word = q.slice(i, j);
      const lower = word.toLowerCase();
      if (lower === 'transaction') {
        out += '"transaction"';
      } else if (lower === 'builtin' && q[j] === '.') {
        let k = j + 1;
        while (k < n && isWord(q[k])) k++;
        out += `BUILTIN_${q.slice(j + 1, k).toUpperCase()}`;
        j = k;
      } else if (fold && q[j] === '(') {
        const call = constantCall(q, j);
        const folded = call ? fold(lower, call.args) : null;
        if (call && folded !== null) {
          out += `'${folded.replace(/'/g, "''")}'`;
          j = call.end;
        } else {
          out += word;
        }
      } else {
        out += word;
      }
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * `(<string literal>[, <string literal>]*)` starting at `open`: the literals' values and the
 * index after `)`, or null when the arguments are not all string literals.
 */
function constantCall(q: string, open: number): { args: string[]; end: number } | null {
  const args: string[] = [];
  let i = open + 1;
  const skipWs = (): void => {
    while (i < q.length && /\s/.test(q[i])) i++;
  };
  for (;;) {
    skipWs();
    if (q[i] !== "'") return null;
    let j = i + 1;
    let v = '';
    for (;;) {
      if (j >= q.length) return null;
      if (q[j] === "'" && q[j + 1] === "'") {
        v += "'";
        j += 2;
      } else if (q[j] === "'") break;
      else v += q[j++];
    }
    args.push(v);
    i = j + 1;
    skipWs();
    if (q[i] === ',') {
      i++;
      continue;
    }
    if (q[i] === ')') return { args, end: i + 1 };
    return null;
  }
}
