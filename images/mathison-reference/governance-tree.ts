/**
 * The governance tree of the reference Mathison image: the reference's own modules
 * (examples/mathison-reference/*.ts), each built on its own by esbuild into
 * packages/mathison-reference/dist/<name>.js under the image's repository root (/app, its
 * MATHISON_REPO_ROOT). A production genome pins them as packages/mathison-reference/src/<name>.ts,
 * which upstream's production rule checks as the dist file. prepare.sh writes it
 * (`tsx images/mathison-reference/governance-tree.ts <app dir>`); imageManifest() computes what a
 * genome pins for it, so a test can hold the committed sample genome to the image.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { fillBuildManifest } from '../../cli/build-manifest-fs.ts';
import type { ManifestEntry } from '../../core/build-manifest.ts';

const REPO_DIR = join(import.meta.dirname, '..', '..');
const SOURCES = join(REPO_DIR, 'examples', 'mathison-reference');

/** The image's repository root: MATHISON_REPO_ROOT and the working directory of its Dockerfile. */
export const IMAGE_REPO_ROOT = '/app';

/** The reference's modules the tree holds (examples/mathison-reference/<name>.ts). */
export const GOVERNANCE_MODULES = ['boot-manifest', 'health', 'main'] as const;

const PACKAGE = 'packages/mathison-reference';

/** The paths a genome lists for them (root-relative sources, as upstream's manifests do). */
export const GOVERNANCE_PATHS = GOVERNANCE_MODULES.map((name) => `${PACKAGE}/src/${name}.ts`);

/**
 * Writes the built modules under `root` (packages/mathison-reference/dist/<name>.js); returns
 * the root-relative paths written. esbuild transforms one file at a time (no bundling), so a
 * module's bytes change only when its own source (or esbuild) does.
 */
export function writeGovernanceTree(root: string): string[] {
  return GOVERNANCE_MODULES.map((name) => {
    const source = readFileSync(join(SOURCES, `${name}.ts`), 'utf8');
    const { code } = transformSync(source, {
      loader: 'ts',
      format: 'esm',
      platform: 'node',
      target: 'node24',
      sourcefile: `${name}.ts`,
    });
    const path = `${PACKAGE}/dist/${name}.js`;
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), code);
    return path;
  });
}

/**
 * The build manifest a production genome pins for the image whose repository root is `root`
 * (upstream's genome-build-manifest with the production rule: each src path hashed as its dist
 * file). Throws a CliRefusal naming a file the tree lacks.
 */
export function imageManifest(root: string): ManifestEntry[] {
  const listed = GOVERNANCE_PATHS.map((path) => ({ path, sha256: '' }));
  return fillBuildManifest(listed, root, { production: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2];
  if (root === undefined) {
    console.error('usage: governance-tree.ts <root>: writes the tree, prints its manifest');
    process.exit(2);
  }
  writeGovernanceTree(root);
  console.log(JSON.stringify({ files: imageManifest(root) }, null, 2));
}
