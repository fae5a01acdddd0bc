import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { loadJwks } from '../certificates/certificate.command';
import { parseSignatureFile, verifyArtifact } from './artifact.verify';

/** `ehub verify-artifact <file>`: checks a downloaded artifact offline against its signature and a JWKS. */
export function registerArtifactCommands(program: Command): void {
  program
    .command('verify-artifact')
    .description('Verify a downloaded artifact offline: its signature (Ed25519, the hub JWKS) and its size, SHA-512 and SHA-256; exits 1 when it does not verify.')
    .argument('<file>', 'the artifact file')
    .option('--sig <file>', 'its signature: the .sig JSON ({"signature": "<JWS>"}) or the bare JWS (default: <file>.sig)')
    .option('--jwks <fileOrUrl>', 'a saved JWKS file, or a hub URL (fetches /.well-known/jwks.json); default: the keys in the hub database')
    .option('--json', 'print the verified signature payload as JSON')
    .action(async (file: string, opts: { sig?: string; jwks?: string; json?: boolean }) => {
      const sigFile = opts.sig ?? `${file}.sig`;
      let text: string;
      try {
        text = await fs.readFile(sigFile, 'utf8');
      } catch (err) {
        throw new Error(`Could not read the signature ${sigFile}: ${(err as Error).message} (save the artifact's signature beside it, or pass --sig)`);
      }
      const jwks = await loadJwks(opts.jwks);
      await fs.access(file).catch((err: Error) => {
        throw new Error(`Could not read ${file}: ${err.message}`);
      });
      const result = await verifyArtifact(createReadStream(file, { highWaterMark: 1024 * 1024 }), parseSignatureFile(text), jwks);
      if (!result.valid) throw new Error(`Artifact NOT valid (${result.reason}): ${result.message}`);
      const p = result.payload;
      if (opts.json) console.log(JSON.stringify(p, null, 2));
      else
        console.log(
          [
            'Artifact valid.',
            `  File      ${p.file} (${p.size} bytes)`,
            `  Release   ${p.product} ${p.version} (${p.channel.toLowerCase()})`,
            `  Platform  ${p.platform ?? 'any'} / ${p.arch ?? 'any'}`,
            `  SHA-256   ${p.sha256}`,
            `  Signed    ${new Date(p.iat * 1000).toISOString()} with key ${result.kid}`,
          ].join('\n'),
        );
    });
}
