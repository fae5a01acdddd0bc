import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from './options';

/**
 * The SDF project in metadata/ must define every custom field the connector reads or writes
 * by default, with the object type its prefix requires, so the two cannot drift apart.
 */
const dir = join(__dirname, 'metadata', 'src', 'Objects');
const ROOT_BY_PREFIX: Record<string, string> = {
  custentity: 'entitycustomfield',
  custbody: 'transactionbodycustomfield',
  custcol: 'transactioncolumncustomfield',
  custrecord: 'othercustomfield',
};

function objects(): Map<string, { root: string; fieldtype: string | null; label: string | null }> {
  const out = new Map<string, { root: string; fieldtype: string | null; label: string | null }>();
  for (const f of readdirSync(dir)) {
    const xml = readFileSync(join(dir, f), 'utf8');
    const open = /^<([a-z]+) scriptid="([a-z0-9_]+)">/.exec(xml.trim());
    expect({ file: f, open: Boolean(open) }).toEqual({ file: f, open: true });
    const [, root, scriptid] = open!;
    expect({ file: f, closes: xml.trim().endsWith(`</${root}>`), named: f === `${scriptid}.xml` }).toEqual({ file: f, closes: true, named: true });
    out.set(scriptid!, { root: root!, fieldtype: /<fieldtype>([A-Z]+)<\/fieldtype>/.exec(xml)?.[1] ?? null, label: /<label>([^<]+)<\/label>/.exec(xml)?.[1] ?? null });
  }
  return out;
}

describe('NetSuite SDF metadata', () => {
  it('defines every field the connector uses by default, as the object its prefix requires', () => {
    const defined = objects();
    // The connector's own defaults, read from its option parser.
    const { parsed } = parseConfig({
      options: { accountId: '1234567', authMode: 'tba' },
      credentials: { consumerKey: 'k', consumerSecret: 's', tokenId: 't', tokenSecret: 'ts' },
    });
    const o = parsed!.options;
    const used = [...Object.values(o.accountFields), o.crmIdField, o.crmDealField, o.lineStartDateField, o.lineEndDateField, o.usage.metricField].filter(
      (f): f is string => typeof f === 'string',
    );
    expect(used.length).toBe(21);
    for (const id of used) {
      const o = defined.get(id);
      expect({ id, root: o?.root }).toEqual({ id, root: ROOT_BY_PREFIX[id.split('_')[0]!] });
      expect({ id, hasType: Boolean(o?.fieldtype), hasLabel: Boolean(o?.label) }).toEqual({ id, hasType: true, hasLabel: true });
    }
    // Nothing defined that the connector does not use.
    expect([...defined.keys()].sort()).toEqual([...new Set(used)].sort());
  });
});
