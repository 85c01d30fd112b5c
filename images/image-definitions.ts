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
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from './image-builder.ts';

const IMAGES_DIR = fileURLToPath(new URL('.', import.meta.url));

/** An image the repository defines: images/<dir>/Dockerfile (+ prepare.sh), and its local name. */
export interface ImageDefinition {
  dir: string;
  name: string;
}

/** The sandbox (pause) image every pod starts with. */
export const PAUSE_IMAGE: ImageDefinition = { dir: 'pause', name: 'genome.local/pause:v1' };
/** The static HTTP server and exec tool the node tests run. */
export const TEST_SERVER_IMAGE: ImageDefinition = {
  dir: 'test-server',
  name: 'genome.local/test-server:v1',
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
  const outPath = join(cacheDir, `${image.dir}-${inputsDigest(source, image.name)}.tar`);
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
      dockerfile: readFileSync(join(source, 'Dockerfile'), 'utf8'),
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

/** A digest of everything that goes into an image: its directory, the builder, and its name. */
function inputsDigest(source: string, name: string): string {
  const hash = createHash('sha256').update(name);
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
