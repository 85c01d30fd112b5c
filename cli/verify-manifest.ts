/**
 * `genome verify --manifest-root <dir> [--production]`: after the signature verdict, the genome's
 * build_manifest is checked under the directory as Mathison checks it at boot
 * (core/build-manifest.ts). A genome already refused is not checked; a manifest that fails
 * becomes the refusal (exit 1).
 */
import type { BuildManifestResult } from '../core/build-manifest.ts';
import { displayText } from '../core/display.ts';
import { verifyBuildManifestAt } from './build-manifest-fs.ts';
import type { VerifyArgs } from './verify-args.ts';
import type { Refusal } from '../core/codes.ts';
import type { Genome } from '../core/genome.ts';

/** What the manifest check found: its result, or not checked (the genome was refused first). */
export interface ManifestReport {
  root: string;
  production: boolean;
  result?: BuildManifestResult;
}

/** What withManifest needs of a verify result (cli/verify-report.ts's VerifyResult). */
interface Checked {
  genome: Genome;
  refusal?: Refusal;
  manifest?: ManifestReport;
}

/** The result with the manifest checked (when asked and the genome verified). */
export function withManifest<R extends Checked>(result: R, args: VerifyArgs): R {
  if (args.manifestRoot === undefined) return result;
  const report: ManifestReport = { root: args.manifestRoot, production: args.production };
  if (result.refusal !== undefined) return { ...result, manifest: report };
  const checked = verifyBuildManifestAt(result.genome.build_manifest.files, args.manifestRoot, {
    production: args.production,
  });
  return {
    ...result,
    manifest: { ...report, result: checked },
    ...(!checked.ok && { refusal: checked.refusal }),
  };
}

/** The text line: `manifest:     verified 2 file(s) under <root> (development rules)`. */
export function manifestLine(report: ManifestReport): string {
  const rules = report.production ? 'production rules: src→dist' : 'development rules';
  const where = `under ${displayText(report.root)} (${rules})`;
  const { result } = report;
  if (result === undefined) return `manifest:     not checked: the genome was refused`;
  if (!result.ok) return `manifest:     REFUSED ${displayText(result.path)} ${where}`;
  const skipped = result.skipped > 0 ? `, ${result.skipped} placeholder hash(es) skipped` : '';
  return `manifest:     verified ${result.checked} file(s) ${where}${skipped}`;
}

/** The -o json `manifest` field. */
export function manifestJson(report: ManifestReport) {
  const base = { root: report.root, production: report.production };
  const { result } = report;
  if (result === undefined) return { ...base, verified: false, checked: null, skipped: null };
  if (result.ok)
    return { ...base, verified: true, checked: result.checked, skipped: result.skipped };
  return {
    ...base,
    verified: false,
    path: result.path,
    ...(result.expected !== undefined && { expected: result.expected }),
    ...(result.actual !== undefined && { actual: result.actual }),
    code: result.refusal.code,
  };
}
