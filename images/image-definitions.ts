import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from './image-builder.ts';

const IMAGES_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_DIR = join(IMAGES_DIR, '..');

/** An image the repository defines: images/<dir>/Dockerfile (+ prepare.sh), and its local name. */
export interface ImageDefinition {
  dir: string;
  name: string;
  /** The Dockerfile, relative to the repository, when it is not images/<dir>/Dockerfile. */
  dockerfile?: string;
  /** Repository paths (files or folders) that prepare.sh builds from, part of the cache key. */
  inputs?: string[];
}

/** The sandbox (pause) image every pod starts with. */
export const PAUSE_IMAGE: ImageDefinition = { dir: 'pause', name: 'genome.local/pause:v1' };
/** The static HTTP server and exec tool the node tests run. */
export const TEST_SERVER_IMAGE: ImageDefinition = {
  dir: 'test-server',
  name: 'genome.local/test-server:v1',
};

/** What the application bundles are made from (for the cache key of the images that hold them). */
const APP_SOURCES = [
  ...['cmd', 'cli', 'core', 'kube', 'tls', 'webhook', 'operator', 'scripts'],
  ...['package.json', 'package-lock.json'],
];

/** The product image (the repository's Dockerfile): the programs of cmd/, one bundle each. */
export const PRODUCT_IMAGE: ImageDefinition = {
  dir: 'genome-operator',
  name: 'genome.local/genome-operator:v1',
  dockerfile: 'Dockerfile',
  inputs: [...APP_SOURCES, '.dockerignore'],
};
/** The reference Mathison container (examples/mathison-reference). */
export const MATHISON_REFERENCE_IMAGE: ImageDefinition = {
  dir: 'mathison-reference',
  name: 'genome.local/mathison-reference:v1',
  inputs: [...APP_SOURCES, 'examples/mathison-reference'],
};

/**
 * The OCI layout archive of `image`, built (prepare.sh into a fresh context, then the
 * Dockerfile) unless a cached one with the same inputs exists; returns its path.
 */
export async function ensureImageArchive(image: ImageDefinition): Promise<string> {
  const source = join(IMAGES_DIR, image.dir);
  const cacheDir = join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'genome-operator',
    'images',
  );
  const dockerfile = join(
    image.dockerfile === undefined ? source : REPO_DIR,
    image.dockerfile ?? 'Dockerfile',
  );
  const outPath = join(cacheDir, `${image.dir}-${inputsDigest(source, image, dockerfile)}.tar`);
  if (existsSync(outPath)) return outPath;
  mkdirSync(cacheDir, { recursive: true });
  const context = mkdtempSync(join(tmpdir(), `genome-context-${image.dir}-`));
  try {
    const prepare = join(source, 'prepare.sh');
    if (existsSync(prepare)) {
      const result = spawnSync('bash', [prepare, context], { encoding: 'utf8' });
      if (result.status !== 0)
        throw new Error(`${prepare} failed (exit ${result.status}):\n${result.stderr}`);
    }
    const partial = `${outPath}.partial-${process.pid}`;
    await buildImage({
      dockerfile: readFileSync(dockerfile, 'utf8'),
      contextDir: existsSync(prepare) ? context : source,
      name: image.name,
      outPath: partial,
    });
    renameSync(partial, outPath);
    return outPath;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/**
 * A digest of everything that goes into an image: its directory, the builder, its name, its
 * Dockerfile and the repository inputs its prepare.sh reads.
 */
function inputsDigest(source: string, image: ImageDefinition, dockerfile: string): string {
  const hash = createHash('sha256').update(image.name).update(readFileSync(dockerfile));
  for (const input of image.inputs ?? []) hashTree(hash, join(REPO_DIR, input));
  for (const dir of [source, IMAGES_DIR]) {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      if (!entry.isFile()) continue;
      hash.update(entry.name).update(readFileSync(join(dir, entry.name)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Adds every file under `path` (or the file itself), by repository path and content. */
function hashTree(hash: ReturnType<typeof createHash>, path: string): void {
  if (!existsSync(path)) return;
  const files = statSync(path).isDirectory()
    ? readdirSync(path, { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name))
        .sort()
    : [path];
  for (const file of files) hash.update(relative(REPO_DIR, file)).update(readFileSync(file));
}
