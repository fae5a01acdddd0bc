import { decide, nameSimilarity, normalizeCompanyName, registrableDomain, scorePair, type MatchSubject } from './identity.rules';

const subject = (over: Partial<MatchSubject>): MatchSubject => ({ id: 'x', name: 'x', domain: null, country: null, externalIds: [], crossRefs: [], ...over });
const T = { auto: 0.9, review: 0.6 };

describe('normalizeCompanyName', () => {
  it.each([
    ['ACME Corp.', 'acme'],
    ['Acme Corporation', 'acme'],
    ['Acme, Inc.', 'acme'],
    ['ACME GmbH & Co. KG', 'acme'],
    ['Müller AG', 'muller'],
    ['Société Générale S.A.', 'societe generale'],
    ['Johnson & Johnson', 'johnson johnson'],
    ['Johnson and Johnson Ltd', 'johnson johnson'],
    ['Foo Pty Ltd', 'foo'],
    ['Kabushiki Widgets K.K.', 'kabushiki widgets'],
    ['Van Dijk B.V.', 'van dijk'],
    ['The Company Ltd', 'the company ltd'],
  ])('%s → %s', (name, expected) => {
    expect(normalizeCompanyName(name)).toBe(expected);
  });
});

describe('registrableDomain', () => {
  it('reduces hosts, URLs and e-mail addresses to the registrable domain', () => {
    expect(registrableDomain('www.acme.co.uk')).toBe('acme.co.uk');
    expect(registrableDomain('EU.Shop.Acme.com')).toBe('acme.com');
    expect(registrableDomain('jane@sales.acme.com')).toBe('acme.com');
  });
  it('never returns a webmail domain, nor junk', () => {
    for (const d of ['gmail.com', 'mail.yahoo.co.jp', 'outlook.com', 'jane@hotmail.com', 'icloud.com', 'proton.me', 'protonmail.com', 'localhost', '', null]) {
      expect(registrableDomain(d)).toBeNull();
    }
  });
});

describe('scorePair', () => {
  it('the same customer from CRM and ERP (same domain, legal forms differ) auto-merges', () => {
    const s = scorePair(subject({ name: 'ACME Corp.', domain: 'acme.com' }), subject({ name: 'Acme Corporation', domain: 'www.acme.com' }))!;
    expect(decide(s.confidence, T)).toBe('AUTO');
    expect(s.evidence.map((e) => e.rule)).toEqual(['DOMAIN', 'NAME']);
  });

  it('the same external id in one system is certain', () => {
    const s = scorePair(subject({ name: 'A', externalIds: ['salesforce/001'] }), subject({ name: 'B', externalIds: ['salesforce/001'] }))!;
    expect(s.confidence).toBe(1);
    expect(s.evidence[0]!.rule).toBe('EXTERNAL_ID');
  });

  it('a cross-reference one system holds of the other is near-certain', () => {
    const s = scorePair(subject({ name: 'A', crossRefs: ['salesforce/001'] }), subject({ name: 'B', externalIds: ['salesforce/001'] }))!;
    expect(decide(s.confidence, T)).toBe('AUTO');
    expect(s.evidence[0]!.rule).toBe('CROSS_REFERENCE');
  });

  it('similar names in different countries never reach review', () => {
    const s = scorePair(subject({ name: 'Globex GmbH', country: 'DE' }), subject({ name: 'Globex Ltd', country: 'GB' }));
    expect(s === null || decide(s.confidence, T) === 'NONE').toBe(true);
  });

  it('the same name in the same country without a domain goes to review, not auto', () => {
    const s = scorePair(subject({ name: 'Initech Software', country: 'US' }), subject({ name: 'Initech Software Inc', country: 'US' }))!;
    expect(decide(s.confidence, T)).toBe('REVIEW');
  });

  it('a shared domain with different names is ambiguous: review', () => {
    const s = scorePair(subject({ name: 'Umbrella Pharma', domain: 'umbrella.com' }), subject({ name: 'Umbrella Labs', domain: 'umbrella.com' }))!;
    expect(decide(s.confidence, T)).toBe('REVIEW');
  });

  it('a webmail domain is no evidence', () => {
    expect(scorePair(subject({ name: 'Smith Plumbing', domain: 'gmail.com' }), subject({ name: 'Jones Bakery', domain: 'gmail.com' }))).toBeNull();
  });

  it('different real domains cut a name match below review', () => {
    const s = scorePair(subject({ name: 'Apex Systems', domain: 'apex.com', country: 'US' }), subject({ name: 'Apex Systems', domain: 'apexsystems.io', country: 'US' }))!;
    expect(decide(s.confidence, T)).toBe('NONE');
  });

  it('token-set ratio ignores word order and duplicates', () => {
    expect(nameSimilarity('global widgets', 'widgets global')).toBe(100);
    expect(nameSimilarity('acme', 'zenith')).toBeLessThan(50);
  });
});
