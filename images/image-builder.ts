import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import {
  DockerfileError,
  parseDockerfile,
  type CopyInstruction,
  type Instruction,
  type Stage,
} from './dockerfile.ts';
import { writeTar, type TarDigest, type TarEntry } from './tar-writer.ts';

/** What to build: a Dockerfile (the restricted subset), its context directory, and the image's name. */
export interface BuildRequest {
  dockerfile: string;
  contextDir: string;
  /** A full reference, e.g. genome.local/pause:v1 (stored as the image's name on import). */
  name: string;
  /** Where to write the OCI image layout archive (a tar). */
  outPath: string;
}

/** The built image: its manifest digest and where the archive is. */
export interface BuiltImage {
  name: string;
  manifestDigest: string;
  outPath: string;
}

/** The OCI image configuration fields the subset can set. */
interface ImageConfig {
  Env: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  User?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
}

type FsEntry = Omit<TarEntry, 'path'>;

/** A stage being built: its merged file system (path → entry), its layers and its config. */
interface StageState {
  files: Map<string, FsEntry>;
  layers: Array<Map<string, FsEntry>>;
  config: ImageConfig;
}

const ROOT_DIR: FsEntry = { type: 'dir', mode: 0o755, uid: 0, gid: 0 };
const MEDIA = {
  layer: 'application/vnd.oci.image.layer.v1.tar',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
};

/**
 * Builds the last stage of a Dockerfile into an OCI image layout archive, offline: every layer
 * is a reproducible tar of the files that stage's COPY instructions placed.
 */
export async function buildImage(request: BuildRequest): Promise<BuiltImage> {
  const stages = parseDockerfile(request.dockerfile);
  const states: StageState[] = [];
  const names = new Map(stages.flatMap((s, i) => (s.name ? [[s.name, i] as const] : [])));
  const sources: Sources = { earlier: states, contextDir: request.contextDir, names };
  for (const stage of stages) states.push(buildStage(stage, sources));
  const work = mkdtempSync(join(tmpdir(), 'genome-image-'));
  try {
    return await writeLayout(states.at(-1)!, request, work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function buildStage(stage: Stage, sources: Sources): StageState {
  const base = stage.base === 'scratch' ? undefined : sources.earlier[stage.base.stage];
  const state: StageState = {
    files: new Map(base?.files ?? []),
    layers: [...(base?.layers ?? [])],
    config: structuredClone(base?.config ?? { Env: [] }),
  };
  for (const instruction of stage.instructions) apply(state, instruction, sources);
  return state;
}

/** Where COPY finds files: the build context, or the stages built so far (by index or name). */
interface Sources {
  earlier: StageState[];
  contextDir: string;
  names: Map<string, number>;
}

function apply(state: StageState, instruction: Instruction, sources: Sources): void {
  if (instruction.kind === 'COPY') addLayer(state, copyEntries(instruction, state, sources));
  else if (instruction.kind === 'WORKDIR') {
    const dir = posix.resolve(state.config.WorkingDir ?? '/', instruction.value);
    state.config.WorkingDir = dir;
    if (!state.files.has(dir))
      addLayer(state, withParents(new Map([[dir, ROOT_DIR]]), state.files));
  } else applyConfig(state.config, instruction);
}

function applyConfig(config: ImageConfig, instruction: Instruction): void {
  switch (instruction.kind) {
    case 'ENV':
      for (const [key, value] of instruction.pairs)
        config.Env = [...config.Env.filter((e) => !e.startsWith(`${key}=`)), `${key}=${value}`];
      return;
    case 'LABEL':
      config.Labels = { ...config.Labels, ...Object.fromEntries(instruction.pairs) };
      return;
    case 'USER':
      config.User = instruction.value;
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = instruction.argv;
      // As in Docker: a new ENTRYPOINT drops the CMD inherited from the base.
      delete config.Cmd;
      return;
    case 'CMD':
      config.Cmd = instruction.argv;
      return;
    case 'EXPOSE':
      for (const port of instruction.ports)
        config.ExposedPorts = { ...config.ExposedPorts, [port]: {} };
  }
}

function addLayer(state: StageState, entries: Map<string, FsEntry>): void {
  for (const [path, entry] of entries) state.files.set(path, entry);
  state.layers.push(entries);
}

/** The entries one COPY adds: each source's tree at the destination, with missing parents. */
function copyEntries(
  copy: CopyInstruction,
  state: StageState,
  sources: Sources,
): Map<string, FsEntry> {
  const dest = posix.resolve(state.config.WorkingDir ?? '/', copy.dest);
  const intoDir = copy.dest.endsWith('/') || copy.sources.length > 1;
  const added = new Map<string, FsEntry>();
  for (const source of copy.sources) {
    const tree =
      copy.from === undefined
        ? contextTree(copy, source, sources.contextDir)
        : stageTree(copy, source, sources);
    const topIsDir = tree.get('')?.type === 'dir';
    const target = intoDir && !topIsDir ? posix.join(dest, posix.basename(source)) : dest;
    for (const [relative, entry] of tree)
      added.set(relative === '' ? target : posix.join(target, relative), owned(entry, copy));
  }
  // The root of the image is implied; a member named / would be an absolute path.
  added.delete('/');
  return withParents(added, state.files);
}

function owned(entry: FsEntry, copy: CopyInstruction): FsEntry {
  const result = { ...entry };
  if (copy.chown) Object.assign(result, copy.chown);
  if (copy.chmod !== undefined && entry.type !== 'symlink') result.mode = copy.chmod;
  return result;
}

/** Adds the parent directories of every path that the image does not have yet. */
function withParents(
  entries: Map<string, FsEntry>,
  existing: Map<string, FsEntry>,
): Map<string, FsEntry> {
  const result = new Map<string, FsEntry>();
  for (const path of entries.keys()) {
    for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir))
      if (!existing.has(dir) && !entries.has(dir)) result.set(dir, ROOT_DIR);
  }
  for (const [path, entry] of entries) result.set(path, entry);
  return result;
}

/** A source from the build context: a file, a symlink, or a directory's whole tree ('' is the top). */
function contextTree(
  copy: CopyInstruction,
  source: string,
  contextDir: string,
): Map<string, FsEntry> {
  const normal = posix.normalize(source);
  if (normal.startsWith('../') || normal === '..' || posix.isAbsolute(normal))
    throw new DockerfileError(
      copy.line,
      `COPY ${source}: the source must be inside the build context`,
    );
  const top = join(contextDir, normal);
  let topStat;
  try {
    topStat = statSync(top);
  } catch {
    throw new DockerfileError(
      copy.line,
      `COPY ${source}: not found in the build context ${contextDir}`,
    );
  }
  const tree = new Map<string, FsEntry>();
  if (!topStat.isDirectory()) {
    tree.set('', {
      type: 'file',
      mode: topStat.mode,
      uid: 0,
      gid: 0,
      source: { hostPath: top, size: topStat.size },
    });
    return tree;
  }
  walk(top, '', tree);
  return tree;
}

function walk(hostDir: string, relative: string, tree: Map<string, FsEntry>): void {
  tree.set(relative, { type: 'dir', mode: statSync(hostDir).mode, uid: 0, gid: 0 });
  for (const name of readdirSync(hostDir).sort()) {
    const hostPath = join(hostDir, name);
    const path = relative === '' ? name : `${relative}/${name}`;
    const stat = lstatSync(hostPath);
    if (stat.isDirectory()) walk(hostPath, path, tree);
    else if (stat.isSymbolicLink())
      tree.set(path, {
        type: 'symlink',
        mode: 0o777,
        uid: 0,
        gid: 0,
        linkname: readlinkSync(hostPath),
      });
    else if (stat.isFile())
      tree.set(path, {
        type: 'file',
        mode: stat.mode,
        uid: 0,
        gid: 0,
        source: { hostPath, size: stat.size },
      });
  }
}

/** A source from an earlier stage's file system. */
function findStage(copy: CopyInstruction, sources: Sources): StageState {
  const from = copy.from ?? '';
  const index = /^\d+$/.test(from) ? Number(from) : (sources.names.get(from) ?? -1);
  const stage = sources.earlier[index];
  if (!stage)
    throw new DockerfileError(copy.line, `COPY --from=${from}: no earlier stage has that name`);
  return stage;
}

function stageTree(copy: CopyInstruction, source: string, sources: Sources): Map<string, FsEntry> {
  const stage = findStage(copy, sources);
  const top = posix.resolve('/', source);
  const prefix = top === '/' ? '/' : `${top}/`;
  const tree = new Map<string, FsEntry>();
  for (const [path, entry] of stage.files) {
    if (path === top) tree.set('', entry);
    else if (path.startsWith(prefix)) tree.set(path.slice(prefix.length), entry);
  }
  if (top === '/') tree.set('', ROOT_DIR);
  if (!tree.has(''))
    throw new DockerfileError(copy.line, `COPY --from=${copy.from} ${source}: not in that stage`);
  return tree;
}

/** Writes the layers, config, manifest and index as an OCI image layout archive. */
async function writeLayout(
  state: StageState,
  request: BuildRequest,
  work: string,
): Promise<BuiltImage> {
  const blobs: TarEntry[] = [];
  const layers: Array<{ digest: TarDigest; path: string }> = [];
  for (const [index, layer] of state.layers.entries()) {
    const path = join(work, `layer-${index}.tar`);
    const entries = [...layer]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([p, e]) => ({ ...e, path: p.slice(1) }));
    layers.push({ digest: await writeTar(path, entries), path });
  }
  const config = json({
    architecture: 'amd64',
    os: 'linux',
    config: state.config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.digest.sha256}`) },
    history: layers.map(() => ({ created_by: 'genome-operator images/image-builder.ts' })),
  });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: descriptor(MEDIA.config, config),
    layers: layers.map((l) => ({
      mediaType: MEDIA.layer,
      digest: `sha256:${l.digest.sha256}`,
      size: l.digest.size,
    })),
  });
  const manifestDescriptor = {
    ...descriptor(MEDIA.manifest, manifest),
    platform: { architecture: 'amd64', os: 'linux' },
    annotations: {
      'io.containerd.image.name': request.name,
      'org.opencontainers.image.ref.name': request.name,
    },
  };
  const index = json({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [manifestDescriptor] });
  const file = (path: string, data: Buffer): TarEntry => ({
    path,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    source: { data },
  });
  blobs.push(
    { path: 'blobs/', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'blobs/sha256/', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
  );
  for (const l of layers)
    blobs.push({
      path: `blobs/sha256/${l.digest.sha256}`,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      source: { hostPath: l.path, size: l.digest.size },
    });
  blobs.push(
    file(`blobs/sha256/${sha256(config)}`, config),
    file(`blobs/sha256/${sha256(manifest)}`, manifest),
  );
  await writeTar(request.outPath, [
    file('oci-layout', json({ imageLayoutVersion: '1.0.0' })),
    file('index.json', index),
    ...blobs,
  ]);
  return {
    name: request.name,
    manifestDigest: `sha256:${sha256(manifest)}`,
    outPath: request.outPath,
  };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function descriptor(
  mediaType: string,
  data: Buffer,
): { mediaType: string; digest: string; size: number } {
  return { mediaType, digest: `sha256:${sha256(data)}`, size: data.length };
}
