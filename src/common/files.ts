import fs from 'node:fs';

/**
 * Files named by configuration variables (TLS certificates, credentials): checked at start so
 * that a wrong path stops the hub with the variable's name instead of failing later, on the
 * first connection, in a log line.
 */

/** Why `file` (named by `variable`) cannot be read by this process, or null when it can. */
export function unreadableFile(file: string, variable: string): string | null {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return null;
  } catch (err) {
    return `${variable}=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

/** The first problem with a client certificate configuration: the certificate and key must go together, every file be readable. */
export function tlsFilesProblem(files: { variable: string; file: string | undefined }[], pair: [cert: string | undefined, key: string | undefined], pairNames: string): string | null {
  if (Boolean(pair[0]) !== Boolean(pair[1])) return `${pairNames} go together (a client certificate and its key)`;
  for (const { variable, file } of files) {
    const problem = file ? unreadableFile(file, variable) : null;
    if (problem) return problem;
  }
  return null;
}
