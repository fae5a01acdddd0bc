import { token_set_ratio } from 'fuzzball';
import { getDomain } from 'tldts';

/**
 * The pure part of identity resolution: how names and domains are normalised and how a pair
 * of accounts is scored. No database here, so the rules are unit-tested on their own
 * (src/identity/identity.rules.spec.ts) and documented in docs/identity.md.
 */

/**
 * Free-mail and webmail domains: a customer whose "domain" is one of these tells us nothing
 * about who they are, so these never match. Registrable domains (what `tldts` returns), so
 * `mail.yahoo.co.jp` is covered by `yahoo.co.jp`. Maintained here; add to it freely.
 */
export const WEBMAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com', 'googlemail.com', 'google.com',
  'outlook.com', 'hotmail.com', 'hotmail.co.uk', 'hotmail.fr', 'hotmail.de', 'hotmail.it', 'hotmail.es', 'live.com', 'live.co.uk', 'live.fr', 'msn.com', 'passport.com',
  'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'yahoo.de', 'yahoo.it', 'yahoo.es', 'yahoo.co.jp', 'yahoo.com.br', 'yahoo.co.in', 'ymail.com', 'rocketmail.com',
  'icloud.com', 'me.com', 'mac.com',
  'proton.me', 'protonmail.com', 'protonmail.ch', 'pm.me',
  'aol.com', 'aim.com', 'gmx.com', 'gmx.de', 'gmx.net', 'gmx.at', 'gmx.ch', 'web.de', 't-online.de', 'freenet.de',
  'mail.com', 'email.com', 'usa.com', 'zoho.com', 'zohomail.com', 'yandex.com', 'yandex.ru', 'mail.ru', 'inbox.ru', 'list.ru', 'bk.ru', 'rambler.ru',
  'qq.com', '163.com', '126.com', 'sina.com', 'sohu.com', 'naver.com', 'daum.net', 'hanmail.net',
  'orange.fr', 'wanadoo.fr', 'free.fr', 'laposte.net', 'sfr.fr', 'libero.it', 'virgilio.it', 'tiscali.it', 'alice.it',
  'btinternet.com', 'sky.com', 'virginmedia.com', 'comcast.net', 'verizon.net', 'att.net', 'sbcglobal.net', 'cox.net', 'charter.net', 'earthlink.net',
  'bigpond.com', 'optusnet.com.au', 'shaw.ca', 'rogers.com', 'sympatico.ca', 'uol.com.br', 'bol.com.br', 'terra.com.br', 'rediffmail.com',
  'fastmail.com', 'fastmail.fm', 'hey.com', 'tutanota.com', 'tuta.io', 'hushmail.com', 'mailbox.org', 'posteo.de', 'seznam.cz', 'wp.pl', 'o2.pl', 'interia.pl',
]);

/** The registrable domain of a web domain, URL or e-mail address (`www.acme.co.uk` → `acme.co.uk`); null for webmail, IPs and junk. */
export function registrableDomain(value: string | null | undefined): string | null {
  if (!value) return null;
  let v = value.trim().toLowerCase();
  const at = v.lastIndexOf('@');
  if (at >= 0) v = v.slice(at + 1);
  const domain = getDomain(v, { allowPrivateDomains: false });
  if (!domain || WEBMAIL_DOMAINS.has(domain)) return null;
  return domain;
}

/**
 * Legal-form words dropped from company names wherever they stand as a word: the name
 * "Acme Corporation GmbH & Co. KG" normalises to "acme". Multi-word forms are matched
 * after punctuation is gone ("pty ltd", "s a").
 */
const LEGAL_FORMS = [
  'incorporated', 'inc', 'corporation', 'corp', 'company', 'co', 'limited', 'ltd', 'llc', 'llp', 'lp', 'plc', 'pllc',
  'gmbh', 'mbh', 'ag', 'kg', 'ohg', 'ug', 'se', 'sa', 'sas', 'sarl', 'sl', 'srl', 'spa', 'bv', 'nv', 'vof', 'oy', 'oyj', 'ab', 'as', 'asa', 'aps',
  'pty', 'pte', 'kk', 'gk', 'bhd', 'sdn', 'pvt', 'lda', 'ltda', 'sro', 'kft', 'zrt', 'doo', 'sp', 'zoo', 'holding', 'holdings', 'group',
];
const LEGAL_FORM_SET = new Set(LEGAL_FORMS);
/** Dotted abbreviations collapsed before punctuation goes, so "S.A." or "B.V." become one word. */
const DOTTED = /\b((?:[a-z]\.){2,})/g;

/**
 * A company name for comparison: lowercased, accents folded, "&" read as "and" and then
 * dropped with the other stop-words, punctuation removed, legal forms removed, whitespace
 * collapsed. "ACME Corp." and "Acme Corporation" both become "acme".
 */
export function normalizeCompanyName(name: string): string {
  let v = name.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase();
  v = v.replace(DOTTED, (m) => m.replace(/\./g, ''));
  v = v.replace(/&/g, ' and ').replace(/\+/g, ' and ');
  v = v.replace(/[^\p{L}\p{N}]+/gu, ' ');
  const words = v.split(' ').filter((w) => w.length > 0 && w !== 'and' && w !== 'the' && !LEGAL_FORM_SET.has(w));
  // A name made only of legal forms ("The Company Ltd") keeps its words rather than vanish.
  if (words.length === 0) return v.split(' ').filter(Boolean).join(' ');
  return words.join(' ');
}

/** The blocking keys of a normalised name: its words of 3+ characters (candidates share at least one). */
export function nameTokens(normalized: string): string[] {
  return [...new Set(normalized.split(' ').filter((w) => w.length >= 3))];
}

/** 0–100: fuzzball's token-set ratio of two normalised names (word order and repeated words ignored). */
export function nameSimilarity(a: string, b: string): number {
  if (!a || !b) return 0;
  return token_set_ratio(a, b, { full_process: true });
}

/** One piece of evidence behind a candidate match: the rule and the values it saw. */
export interface Evidence {
  rule: 'EXTERNAL_ID' | 'CROSS_REFERENCE' | 'DOMAIN' | 'NAME' | 'COUNTRY' | 'DOMAIN_MISMATCH' | 'COUNTRY_MISMATCH';
  /** What the rule compared, e.g. `acme.com`, or `"acme" ~ "acme" = 100`. */
  value: string;
  /** The rule's own score, 0–1. */
  score: number;
}

/** What the scorer knows of an account. */
export interface MatchSubject {
  id: string;
  name: string;
  domain: string | null;
  country: string | null;
  /** `system/externalId` of its account references (object ignored: systems differ in case). */
  externalIds: readonly string[];
  /** `system/externalId` of other systems' records its source records point at (cross-references). */
  crossRefs: readonly string[];
}

export interface ScoredPair {
  confidence: number;
  evidence: Evidence[];
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The confidence (0–1) that two accounts are the same customer, and why. Rules in order of
 * strength; the strongest that fires sets the base and the weaker ones adjust it:
 * - the same external id in the same system → 1.0;
 * - a cross-reference (one account's source record names the other's record) → 0.98;
 * - the same registrable domain (never webmail) → 0.9–0.97 when the names agree (ratio ≥ 80),
 *   else 0.5–0.7 by the name (the review band), less 0.15 when the countries differ;
 * - otherwise the name alone: token-set ratio ≥ 85 scaled into 0.55–0.85, only when the
 *   countries agree; with one country unknown it is capped at 0.7; different countries or
 *   different (non-webmail) domains cut it to a third, so it never reaches review.
 */
export function scorePair(a: MatchSubject, b: MatchSubject): ScoredPair | null {
  const evidence: Evidence[] = [];
  const sharedIds = a.externalIds.filter((x) => b.externalIds.includes(x));
  if (sharedIds.length > 0) {
    evidence.push({ rule: 'EXTERNAL_ID', value: sharedIds.join(', '), score: 1 });
    return { confidence: 1, evidence };
  }
  const cross = [...a.crossRefs.filter((x) => b.externalIds.includes(x)), ...b.crossRefs.filter((x) => a.externalIds.includes(x))];
  if (cross.length > 0) {
    evidence.push({ rule: 'CROSS_REFERENCE', value: [...new Set(cross)].join(', '), score: 0.98 });
    return { confidence: 0.98, evidence };
  }

  const na = normalizeCompanyName(a.name);
  const nb = normalizeCompanyName(b.name);
  const ratio = nameSimilarity(na, nb);
  const nameScore = ratio / 100;
  const da = registrableDomain(a.domain);
  const db = registrableDomain(b.domain);
  const countriesKnown = a.country !== null && b.country !== null;
  const sameCountry = countriesKnown && a.country === b.country;

  let confidence: number;
  if (da !== null && da === db) {
    evidence.push({ rule: 'DOMAIN', value: da, score: 0.7 });
    evidence.push({ rule: 'NAME', value: `"${na}" ~ "${nb}" = ${ratio}`, score: round(nameScore) });
    // The domain says "same organisation"; the name says "same customer record".
    confidence = ratio >= 80 ? 0.9 + 0.07 * ((ratio - 80) / 20) : 0.5 + 0.2 * (ratio / 80);
    if (countriesKnown && !sameCountry) {
      evidence.push({ rule: 'COUNTRY_MISMATCH', value: `${a.country} ≠ ${b.country}`, score: 0 });
      confidence -= 0.15;
    }
  } else {
    if (ratio < 85) return null;
    evidence.push({ rule: 'NAME', value: `"${na}" ~ "${nb}" = ${ratio}`, score: round(nameScore) });
    confidence = 0.55 + 0.3 * ((ratio - 85) / 15);
    if (sameCountry) evidence.push({ rule: 'COUNTRY', value: a.country!, score: 1 });
    else if (countriesKnown) {
      evidence.push({ rule: 'COUNTRY_MISMATCH', value: `${a.country} ≠ ${b.country}`, score: 0 });
      confidence /= 3;
    } else confidence = Math.min(confidence, 0.7);
    if (da !== null && db !== null && da !== db) {
      evidence.push({ rule: 'DOMAIN_MISMATCH', value: `${da} ≠ ${db}`, score: 0 });
      confidence /= 3;
    }
  }
  return { confidence: round(Math.max(0, Math.min(1, confidence))), evidence };
}

/** Where a confidence lands: auto-merge, the review queue, or nothing. */
export function decide(confidence: number, thresholds: { auto: number; review: number }): 'AUTO' | 'REVIEW' | 'NONE' {
  if (confidence >= thresholds.auto) return 'AUTO';
  if (confidence >= thresholds.review) return 'REVIEW';
  return 'NONE';
}
