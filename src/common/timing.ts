/**
 * Whether `work` settles (resolves or rejects) within `ms`; `null` waits as long as it takes.
 * For shutdown steps that must not wait for ever on a peer gone quiet: the caller decides what
 * to do when it did not (close harder, stop the work).
 */
export async function settlesWithin(work: Promise<unknown>, ms: number | null): Promise<boolean> {
  const settled = work.then(
    () => true,
    () => true,
  );
  if (ms === null) return settled;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([settled, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
