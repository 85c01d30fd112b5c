/**
 * The reference Mathison image with one file the production sample genome pins changed: what
 * production boot refuses (issue 23). `make dev` puts it on the node to show the refusal, and
 * test/node/manifest-boot.test.ts runs it. Built from the reference image's own archive: its
 * layers unpacked in order into one tree, the file changed (a comment appended), the tree built
 * again with the reference image's config. Cached beside the reference archive it came from.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from './image-builder.ts';
import { ensureImageArchive, MATHISON_REFERENCE_IMAGE } from './image-definitions.ts';

/** Its name on the node. */
export const TAMPERED_REFERENCE_IMAGE = 'genome.local/mathison-reference:tampered';
/** The pinned file it changes (production checks the sample's src/health.ts as dist/health.js). */
export const TAMPERED_PATH = 'packages/mathison-reference/dist/health.js';

/** The archive, and the changed file's SHA-256 before (what the genome pins) and after. */
export interface TamperedImage {
  name: string;
  archive: string;
  path: string;
  before: string;
  after: string;
}

/** The reference image's final stage, over the one unpacked tree. */
const DOCKERFILE = [
  'FROM scratch',
  'COPY rootfs/ /',
  'WORKDIR /app',
  'ENV NODE_ENV=production MATHISON_REPO_ROOT=/app',
  'USER 65532:65532',
  'EXPOSE 3000',
  'ENTRYPOINT ["/usr/local/bin/node", "/app/mathison.mjs"]',
].join('\n');

function tar(args: string[]): void {
  const run = spawnSync('tar', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`tar ${args.join(' ')}: ${run.stderr}`);
}

/** Unpacks the layers of the OCI layout archive `archive` in order into `rootfs`. */
function unpackLayers(archive: string, work: string, rootfs: string): void {
  const layout = join(work, 'layout');
  mkdirSync(layout);
  mkdirSync(rootfs, { recursive: true });
  tar(['-xf', archive, '-C', layout]);
  const blob = (digest: string) => join(layout, 'blobs', 'sha256', digest.replace('sha256:', ''));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  for (const layer of manifest.layers as { digest: string }[])
    tar(['-xpf', blob(layer.digest), '-C', rootfs]);
}

/**
 * The tampered image's OCI archive (built once per reference archive, then cached with its
 * hashes beside it); returns where it is and the changed file's hashes.
 */
export async function ensureTamperedReferenceImage(): Promise<TamperedImage> {
  const reference = await ensureImageArchive(MATHISON_REFERENCE_IMAGE);
  const archive = reference.replace(/\.tar$/, '-tampered.tar');
  const facts = `${archive}.json`;
  if (existsSync(archive) && existsSync(facts))
    return JSON.parse(readFileSync(facts, 'utf8')) as TamperedImage;
  const work = mkdtempSync(join(tmpdir(), 'genome-tampered-'));
  try {
    const context = join(work, 'context');
    unpackLayers(reference, work, join(context, 'rootfs'));
    const file = join(context, 'rootfs', 'app', TAMPERED_PATH);
    const sha = () => createHash('sha256').update(readFileSync(file)).digest('hex');
    const before = sha();
    appendFileSync(file, '// not the build the genome pins\n');
    const partial = `${archive}.partial-${process.pid}`;
    await buildImage({
      dockerfile: DOCKERFILE,
      contextDir: context,
      name: TAMPERED_REFERENCE_IMAGE,
      outPath: partial,
    });
    renameSync(partial, archive);
    const built = { name: TAMPERED_REFERENCE_IMAGE, archive, path: TAMPERED_PATH, before };
    const result: TamperedImage = { ...built, after: sha() };
    writeFileSync(facts, JSON.stringify(result));
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
