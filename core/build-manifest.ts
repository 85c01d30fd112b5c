/**
 * The rules of a genome's build_manifest, as upstream Mathison checks it at boot (its loader's
 * verifyBuildManifest and its governance integrity check): each listed file's SHA-256 over its
 * raw bytes, at its path relative to a root; in production a listed …/src/….ts is checked as the
 * built …/dist/….js, and a hash starting with `placeholder` is refused (development skips it).
 * Pure: reading the files is the caller's (cli/build-manifest-fs.ts).
 */
import { refuse, type Refusal } from './codes.ts';
import { displayText } from './display.ts';

export interface ManifestEntry {
  path: string;
  sha256: string;
}

export interface ManifestRules {
  production: boolean;
}

/** The longest manifest path checked (Linux PATH_MAX). */
export const MAX_MANIFEST_PATH_CHARS = 4096;

/** Upstream's placeholder marker: a pinned hash that starts with it is not a hash yet. */
export const PLACEHOLDER_PREFIX = 'placeholder';

/** Short hashes in messages: the first 12 hex characters. */
const SHORT = 12;

/**
 * When Mathison verifies the manifest, and with which rules, from a container's environment
 * (upstream: MATHISON_ENV=production or MATHISON_VERIFY_MANIFEST=true verifies; production rules
 * when MATHISON_ENV=production or MATHISON_USE_DIST=true). undefined: no verification. Values
 * are compared exactly, as upstream does (`True` or `1` is not `true`).
 */
export function manifestCheckFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): ManifestRules | undefined {
  const production = env.MATHISON_ENV === 'production';
  if (!production && env.MATHISON_VERIFY_MANIFEST !== 'true') return undefined;
  return { production: production || env.MATHISON_USE_DIST === 'true' };
}

const invalid = (path: string, why: string): { ok: false; refusal: Refusal } => ({
  ok: false,
  refusal: refuse(
    'GENOME_MANIFEST_PATH_INVALID',
    `build_manifest path ${displayText(path)} ${why}`,
    'build_manifest.files',
  ),
});

/** Upstream's resolveDistPath: the first `/src/` becomes `/dist/` and `.ts` becomes `.js`. */
function distPath(path: string): string {
  if (!path.includes('/src/') || !path.endsWith('.ts')) return path;
  return path.replace('/src/', '/dist/').replace(/\.ts$/, '.js');
}

/** Why a (mapped) path cannot be checked, or undefined. */
function pathProblem(path: string): string | undefined {
  if (path.trim() === '') return 'is empty';
  if (path.length > MAX_MANIFEST_PATH_CHARS)
    return `is longer than ${MAX_MANIFEST_PATH_CHARS} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'holds a NUL or control character';
  if (path.includes('\\')) return 'holds a backslash (use / between directories)';
  if (path.startsWith('/')) return 'is absolute (give it relative to the root)';
  if (path.split('/').includes('..')) return 'has a .. segment (it would leave the root)';
  return undefined;
}

/**
 * The root-relative path checked for an entry (normalized; in production …/src/….ts is checked as
 * …/dist/….js), or a refusal (GENOME_MANIFEST_PATH_INVALID: absolute, `..`, empty, NUL …).
 */
export function manifestTarget(
  path: string,
  rules: ManifestRules,
): { ok: true; path: string } | { ok: false; refusal: Refusal } {
  const mapped = rules.production ? distPath(path) : path;
  const problem = pathProblem(mapped);
  if (problem !== undefined) return invalid(path, problem);
  const normalized = mapped
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.')
    .join('/');
  if (normalized === '') return invalid(path, 'names the root itself, not a file');
  return { ok: true, path: normalized };
}

export type FileDigest =
  | { kind: 'file'; sha256: string } // lowercase hex of the raw bytes
  | { kind: 'missing' }
  | { kind: 'invalid'; why: string }; // not a regular file, escapes the root via a symlink, too large, unreadable

export type BuildManifestResult =
  | { ok: true; checked: number; skipped: number } // skipped: placeholder hashes (development only)
  | { ok: false; refusal: Refusal; path: string; expected?: string; actual?: string };

const short = (hash: string) => displayText(hash.slice(0, SHORT));

/** `a/dist/x.js` or `a/dist/x.js (listed as a/src/x.ts)`, escaped. */
function named(listed: string, target: string): string {
  return target === listed
    ? displayText(target)
    : `${displayText(target)} (listed as ${displayText(listed)})`;
}

type EntryOutcome = 'checked' | 'skipped' | Extract<BuildManifestResult, { ok: false }>;

function checkEntry(
  entry: ManifestEntry,
  digestOf: (path: string) => FileDigest,
  rules: ManifestRules,
): EntryOutcome {
  const target = manifestTarget(entry.path, rules);
  if (!target.ok) return { ok: false, refusal: target.refusal, path: entry.path };
  const path = target.path;
  const name = named(entry.path, path);
  const fail = (code: Refusal['code'], message: string, extra: object = {}): EntryOutcome => ({
    ok: false,
    refusal: refuse(code, message, 'build_manifest.files'),
    path,
    ...extra,
  });
  if (entry.sha256.startsWith(PLACEHOLDER_PREFIX)) {
    if (!rules.production) return 'skipped';
    return fail(
      'GENOME_MANIFEST_PLACEHOLDER',
      `build_manifest pins ${name} with a placeholder hash, which production mode refuses`,
    );
  }
  const digest = digestOf(path);
  if (digest.kind === 'missing')
    return fail('GENOME_MANIFEST_FILE_MISSING', `build_manifest file ${name} is missing`);
  if (digest.kind === 'invalid')
    return fail('GENOME_MANIFEST_PATH_INVALID', `build_manifest file ${name}: ${digest.why}`);
  if (digest.sha256 === entry.sha256) return 'checked';
  return fail(
    'GENOME_MANIFEST_MISMATCH',
    `build_manifest file ${name} differs: the genome pins ${short(entry.sha256)}…, the file is ${short(digest.sha256)}…`,
    { expected: entry.sha256, actual: digest.sha256 },
  );
}

/**
 * Checks every entry in order; the first failure wins. Codes: GENOME_MANIFEST_FILE_MISSING,
 * GENOME_MANIFEST_MISMATCH, GENOME_MANIFEST_PATH_INVALID, GENOME_MANIFEST_PLACEHOLDER (a
 * placeholder hash in production). A failure's `path` is the file checked (the dist path in
 * production), or the listed path when it cannot be checked at all.
 */
export function checkBuildManifest(
  files: readonly ManifestEntry[],
  digestOf: (path: string) => FileDigest,
  rules: ManifestRules,
): BuildManifestResult {
  let checked = 0;
  let skipped = 0;
  for (const entry of files) {
    const outcome = checkEntry(entry, digestOf, rules);
    if (outcome === 'checked') checked += 1;
    else if (outcome === 'skipped') skipped += 1;
    else return outcome;
  }
  return { ok: true, checked, skipped };
}
