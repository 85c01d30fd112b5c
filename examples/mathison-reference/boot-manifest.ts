/**
 * The build manifest check of the reference container's boot, as upstream's server makes it:
 * only when the environment asks (MATHISON_ENV=production or MATHISON_VERIFY_MANIFEST=true), with
 * upstream's rules for that environment (core/build-manifest.ts), against the files under
 * MATHISON_REPO_ROOT, else the working directory. Fails closed: the first missing, changed,
 * placeholder or escaping entry refuses the boot.
 */
import { resolve } from 'node:path';
import { verifyBuildManifestAt } from '../../cli/build-manifest-fs.ts';
import { manifestCheckFromEnv } from '../../core/build-manifest.ts';
import type { Refusal } from '../../core/codes.ts';
import type { Genome } from '../../core/genome.ts';

/** Whether the boot may go on (and whether the manifest was checked), or the refusal and its path. */
export type ManifestBoot =
  | { ok: true; verified: boolean; root?: string }
  | { ok: false; refusal: Refusal; path: string; root: string };

/** Checks `genome`'s build manifest when `env` asks for it; never throws. */
export function checkManifestAtBoot(
  genome: Genome,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): ManifestBoot {
  const rules = manifestCheckFromEnv(env);
  if (rules === undefined) return { ok: true, verified: false };
  const root = resolve(cwd, env.MATHISON_REPO_ROOT || '.');
  const result = verifyBuildManifestAt(genome.build_manifest.files, root, rules);
  if (!result.ok) return { ok: false, refusal: result.refusal, path: result.path, root };
  return { ok: true, verified: true, root };
}
