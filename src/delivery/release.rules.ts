import semver from 'semver';

/** Release channels from the most stable to the least. */
export const CHANNELS = ['STABLE', 'RC', 'BETA', 'ALPHA', 'DEV'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The channels a subscriber to `channel` receives: it and every more stable one (BETA → STABLE, RC, BETA). */
export function channelsUpTo(channel: Channel): Channel[] {
  return CHANNELS.slice(0, CHANNELS.indexOf(channel) + 1);
}

/** The canonical form of a semantic version (`v1.2.3` → `1.2.3`), or null when it is not one. */
export function normalizeVersion(version: string): string | null {
  const v = semver.valid(version.trim(), { loose: false });
  return v && v.length <= 256 ? v : null;
}

/** Newest first, by semver precedence. */
export function compareVersionsDesc(a: string, b: string): number {
  return semver.rcompare(a, b);
}

/**
 * Why a file name cannot name an artifact, or null when it can. Names become part of the
 * storage key and of download URLs: one path segment of printable characters, no `..`.
 */
export function artifactNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 255) return 'must be 1 to 255 characters';
  if (name.includes('\0')) return 'must not contain NUL';
  if (name.includes('/') || name.includes('\\')) return 'must not contain / or \\ (one file name, no path)';
  if (name === '.' || name === '..' || name.startsWith('.')) return 'must not start with a dot';
  if (name.includes('..')) return 'must not contain ..';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f"]/.test(name)) return 'must not contain control characters or quotes';
  return null;
}

/** A compatibility list entry (platform, architecture, device type): short, lower-case, no spaces. */
export function normalizeTag(tag: string): string {
  return tag.trim().toLowerCase();
}
