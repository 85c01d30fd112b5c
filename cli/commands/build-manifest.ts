/**
 * genome build-manifest <genome.json | genome-dir> [out.json] --root <dir> [--production]: fills
 * in the SHA-256 (raw bytes) of each file the genome's build_manifest lists, relative to the
 * root, before signing: upstream Mathison's scripts/genome-build-manifest.ts (its genome
 * directory, --dist and MATHISON_REPO_ROOT are accepted too). With --production the built
 * …/dist/….js of a listed …/src/….ts is hashed, as production boot checks it. Without out.json
 * the input is overwritten, as upstream does; a signature the new hashes break is dropped.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ManifestEntry, ManifestRules } from '../../core/build-manifest.ts';
import { displayText } from '../../core/display.ts';
import { parseGenome, type Genome } from '../../core/genome.ts';
import { MAX_GENOME_FILE_BYTES } from '../../core/verify.ts';
import { fillBuildManifest } from '../build-manifest-fs.ts';
import type { Command, Invocation } from '../command.ts';
import { CliRefusal, readTextFile, usage } from '../io.ts';

const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory();

interface Args {
  input: string;
  output: string;
  root: string;
  rules: ManifestRules;
}

/** --root, else MATHISON_REPO_ROOT (upstream's script reads it); a directory. */
function rootOf(values: Invocation['values'], usageLine: string): string {
  const given = typeof values.root === 'string' ? values.root : process.env.MATHISON_REPO_ROOT;
  if (given === undefined || given === '')
    usage(`${usageLine}  (give --root, the directory the manifest paths are relative to)`);
  if (isDirectory(given) !== true)
    usage(`${usageLine}  (--root ${displayText(given)} is not a directory)`);
  return given;
}

function parseArgs({ values, positionals, usageLine }: Invocation): Args {
  const [given, output, ...extra] = positionals;
  if (given === undefined || given === '-' || extra.length > 0) usage(usageLine);
  // Upstream takes the genome's directory and rewrites its genome.json.
  const input = isDirectory(given) === true ? join(given, 'genome.json') : given;
  const root = rootOf(values, usageLine);
  const production = values.production === true || values.dist === true;
  return { input, output: output ?? input, root, rules: { production } };
}

/** The genome with these manifest files; its signatures dropped when the files changed. */
function withFiles(genome: Genome, files: ManifestEntry[]): { genome: Genome; dropped: boolean } {
  const changed = files.some((f, i) => f.sha256 !== genome.build_manifest.files[i]?.sha256);
  const updated = { ...genome, build_manifest: { ...genome.build_manifest, files } };
  if (!changed || (updated.signature === undefined && updated.signatures === undefined))
    return { genome: updated, dropped: false };
  const { signature: _signature, signatures: _signatures, ...unsigned } = updated;
  return { genome: unsigned, dropped: true };
}

function fileLines(before: readonly ManifestEntry[], after: readonly ManifestEntry[]): string[] {
  return after.map((file, i) => {
    const old = before[i]?.sha256 ?? '';
    const now = `${file.sha256.slice(0, 12)}…`;
    const path = displayText(file.path);
    if (old === file.sha256) return `  unchanged ${path}  ${now}`;
    return `  updated   ${path}  ${displayText(old.slice(0, 12))}… → ${now}`;
  });
}

function run(invocation: Invocation): number {
  const args = parseArgs(invocation);
  const parsed = parseGenome(readTextFile(args.input, 'genome', MAX_GENOME_FILE_BYTES));
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  const before = parsed.genome.build_manifest.files;
  const files = fillBuildManifest(before, args.root, args.rules);
  const { genome, dropped } = withFiles(parsed.genome, files);
  writeFileSync(args.output, `${JSON.stringify(genome, null, 2)}\n`);
  const mode = args.rules.production
    ? 'production (…/src/….ts hashed as …/dist/….js)'
    : 'development';
  console.log(
    [
      `build manifest of ${displayText(genome.name)} ${displayText(genome.version)}: ${files.length} file(s)`,
      `  root:   ${displayText(args.root)}`,
      `  rules:  ${mode}`,
      ...fileLines(before, files),
      ...(dropped ? ['  the signature(s) no longer matched and were removed: sign again'] : []),
      `  output: ${displayText(args.output)}`,
      'next: genome sign (GENOME_SIGNING_PRIVATE_KEY=... genome sign <genome.json>)',
    ].join('\n'),
  );
  return 0;
}

export const buildManifestCommand: Command = {
  name: 'build-manifest',
  summary: "fill in the SHA-256 of the files a genome's build_manifest lists, before signing",
  synopsis: '<genome.json | genome-dir> [out.json] --root <dir> [--production]',
  description: [
    "Fills in the SHA-256 of each file the genome's build_manifest lists (the raw bytes of",
    '<root>/<path>), as upstream Mathison scripts/genome-build-manifest.ts does; the paths are',
    'kept. Without out.json the input is overwritten. Signatures that the new hashes break are',
    'removed: sign the genome afterwards. A missing file, a path that leaves the root (.., absolute,',
    'a symlink out of it) or a file that is not a regular file is refused, and nothing is written.',
    'A genome directory (its genome.json) is accepted, as upstream takes it.',
  ],
  flags: [
    '      --root <dir>              the directory the paths are relative to (default: $MATHISON_REPO_ROOT)',
    '      --production              hash the built …/dist/….js of each listed …/src/….ts (production boot)',
    "      --dist                    the same as --production (upstream's name)",
  ],
  options: {
    root: { type: 'string' },
    production: { type: 'boolean' },
    dist: { type: 'boolean' },
  },
  run,
};
