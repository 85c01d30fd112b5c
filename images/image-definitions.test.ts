// The cache key of an image holds every folder its bundles are built from: a folder left out
// would let a cached archive (and a release pinning it by digest) ship code older than the tree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleEntriesOf } from '../scripts/release/bundled-packages.ts';
import {
  MATHISON_REFERENCE_IMAGE,
  PRODUCT_IMAGE,
  type ImageDefinition,
} from './image-definitions.ts';

const ROOT = join(import.meta.dirname, '..');

/** The repository folders (or root files) the bundles of `image`'s prepare.sh read. */
async function sourceRootsOf(image: ImageDefinition): Promise<string[]> {
  const prepare = readFileSync(join(ROOT, 'images', image.dir, 'prepare.sh'), 'utf8');
  const entries = bundleEntriesOf(prepare).map((e) => join(ROOT, e.split('=')[1]!));
  expect(entries.length).toBeGreaterThan(0);
  const { metafile } = await build({
    entryPoints: entries,
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    outdir: '/nonexistent',
    absWorkingDir: ROOT,
    logLevel: 'silent',
  });
  const roots = Object.keys(metafile.inputs)
    .filter((path) => !path.includes('node_modules/'))
    .map((path) => path.split('/')[0]!);
  return [...new Set(roots)].sort();
}

describe('the image cache keys', () => {
  for (const image of [PRODUCT_IMAGE, MATHISON_REFERENCE_IMAGE]) {
    it(`${image.dir}: every folder its bundles read is an input`, { timeout: 60_000 }, async () => {
      const inputs = image.inputs ?? [];
      const missing = (await sourceRootsOf(image)).filter(
        (root) => !inputs.some((input) => input === root || input.split('/')[0] === root),
      );
      expect(missing).toEqual([]);
    });
  }
});
