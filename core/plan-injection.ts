/**
 * What the mutating webhook does to a pod that names a Genome (label genome.mathison.io/genome):
 * pure, from the pod and the Genome as the webhook's cache holds it. A verified Genome gives the
 * pod its published ConfigMap, read-only at /etc/mathison/genome, MATHISON_GENOME_PATH, the id
 * annotation, the readiness gate and the boot check; anything else refuses (fail closed).
 * Applying the plan to its own result changes nothing (reinvocation, re-application).
 */
import { posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  CONDITION_VERIFIED,
  GENOME_CONFIGMAP_KEY,
  GENOME_ID_ANNOTATION,
  GENOME_LABEL,
  VERIFIED_READINESS_GATE,
} from './api.ts';
import { refuse, type Refusal } from './codes.ts';
import { displayText, displayValue } from './display.ts';
import { checkInjection, type InjectionPod } from './injection-check.ts';
import {
  appImageMount,
  appImageVolume,
  manifestChecksEnv,
  planManifestChecks,
  TERMINATION_ENV,
  type AppImageCheck,
} from './plan-manifest.ts';
import {
  configMapProblem,
  statusPublicationProblem,
  type ConfigMapView,
  type GenomeView,
  type Publication,
} from './publication.ts';

/** Where the genome is mounted in each container. */
export const GENOME_MOUNT_PATH = '/etc/mathison/genome';
/** The variable that points Mathison at its genome. */
export const GENOME_PATH_ENV = 'MATHISON_GENOME_PATH';
/** The variable that tells the boot check which genome id the pod was admitted with. */
export const EXPECTED_ID_ENV = 'GENOME_EXPECTED_ID';
/** The name of the injected volume (and of its mounts). */
export const GENOME_VOLUME = 'mathison-genome';
/** The name of the injected init container. */
export const BOOT_CHECK_CONTAINER = 'genome-verify';
/** Annotation: a comma-separated list of the containers that get the mount (default: all). */
export const GENOME_CONTAINERS_ANNOTATION = 'genome.mathison.io/containers';
/** Annotation: "false" leaves the boot-check init container out. */
export const BOOT_CHECK_ANNOTATION = 'genome.mathison.io/boot-check';
/** Annotation the webhook writes: what it injected, as JSON. */
export const INJECTION_STATUS_ANNOTATION = 'genome.mathison.io/injection';
export {
  APP_IMAGE_MOUNT_ROOT,
  MANIFEST_CHECKS_ENV,
  TERMINATION_PATH_ENV,
  type ManifestCheck,
} from './plan-manifest.ts';

/** A JSON object, as pods arrive in an AdmissionReview. */
type Obj = Record<string, unknown>;

/** The parts of the webhook's settings the plan needs. */
export interface InjectionSettings {
  /** The product image that runs the boot check. */
  image: string;
  imagePullPolicy: string;
  /**
   * Whether the pod's own genome.mathison.io/containers and boot-check: "false" may narrow the
   * injection (a weaker guarantee; the operator's setting of that name must agree). Default:
   * refused, so that every application container runs on the verified genome.
   */
  allowOptOut?: boolean;
}

/** One JSON Patch operation (RFC 6902), as an admission response carries them. */
export interface PatchOperation {
  op: 'add';
  path: string;
  value: unknown;
}

/** The plan: the patch (empty when the pod already has everything) and what it injected. */
export type InjectionPlan =
  | { ok: true; patch: PatchOperation[]; genomeId: string; configMapName: string }
  | { ok: false; refusal: Refusal };

/** The Genome's name that a pod asks for, or undefined when the pod does not opt in. */
export function requestedGenome(pod: unknown): string | undefined {
  const labels = asObj(asObj(asObj(pod).metadata).labels);
  const name = labels[GENOME_LABEL];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * Where the plan reads what it may inject, as the webhook's caches hold it: the Genome the pod
 * names (undefined: none of that name), and the published ConfigMaps of the pod's namespace.
 */
export interface PublishedSource {
  genome: GenomeView | undefined;
  configMap(name: string): ConfigMapView | undefined;
}

/**
 * What the Genome's status says: the id and ConfigMap it publishes, or why it may not be used
 * (missing, being deleted, not verified for its generation, not published yet). The status
 * only: injectablePublication checks what it names.
 */
export function verifiedPublication(
  name: string,
  namespace: string,
  genome: GenomeView | undefined,
): Publication | Refusal {
  const which = `Genome ${displayText(namespace)}/${displayText(name)}`;
  if (genome === undefined) return refuse('GENOME_MISSING', `${which} does not exist`);
  const problem = statusProblem(genome);
  if (problem !== undefined) return refuse('GENOME_NOT_VERIFIED', `${which} ${problem}`);
  const { genomeId = '', configMapName = '' } = genome.status ?? {};
  return { genomeId, configMapName };
}

/**
 * The id and ConfigMap to inject, or why not: verifiedPublication, and what the status names
 * must be the Genome's own publication of its own spec (core/publication.ts), since whoever
 * can write genomes/status or ConfigMaps could otherwise choose what pods mount.
 */
export function injectablePublication(
  name: string,
  namespace: string,
  source: PublishedSource,
): Publication | Refusal {
  const publication = verifiedPublication(name, namespace, source.genome);
  if ('code' in publication || source.genome === undefined) return publication;
  const which = `Genome ${displayText(namespace)}/${displayText(name)}`;
  const forged = statusPublicationProblem(name, source.genome, publication);
  if (forged !== undefined) return refuse('GENOME_PUBLICATION_INVALID', `${which} ${forged}`);
  const { genomeId, configMapName } = publication;
  const wrong = configMapProblem(source.genome, source.configMap(configMapName), genomeId);
  if (wrong === undefined) return publication;
  const cm = `ConfigMap ${displayText(namespace)}/${displayText(configMapName)}`;
  return refuse('GENOME_PUBLICATION_INVALID', `${cm}, named by ${which}, ${wrong}`);
}

/** Why the status does not make the Genome usable now, or undefined. */
function statusProblem(genome: GenomeView): string | undefined {
  const status = genome.status ?? {};
  if (genome.metadata.deletionTimestamp !== undefined) return 'is being deleted';
  const verified = status.conditions?.find((c) => c.type === CONDITION_VERIFIED);
  if (verified === undefined) return 'is not verified yet';
  if (verified.status !== 'True')
    return `is not verified (${displayText(verified.reason)}: ${displayText(verified.message, 1024)})`;
  const generation = genome.metadata.generation;
  if (generation !== undefined && status.observedGeneration !== generation)
    return `generation ${generation} is not verified yet`;
  if (!status.genomeId || !status.configMapName) return 'is verified but not published yet';
  return undefined;
}

/** Plans the injection into `pod` of what `source` publishes for the Genome it names. */
export function planInjection(
  pod: unknown,
  namespace: string,
  source: PublishedSource,
  settings: InjectionSettings,
): InjectionPlan {
  const name = requestedGenome(pod);
  if (name === undefined)
    return { ok: false, refusal: refuse('WEBHOOK_MISCONFIGURED', 'the pod has no genome label') };
  const publication = injectablePublication(name, namespace, source);
  if ('code' in publication) return { ok: false, refusal: publication };
  const before = asObj(pod);
  const targets = targetContainers(before);
  if ('code' in targets) return { ok: false, refusal: targets };
  const optOut = settings.allowOptOut === true ? undefined : optOutRefusal(before, targets);
  if (optOut !== undefined) return { ok: false, refusal: optOut };
  const manifest = planManifestChecks(asList(asObj(before.spec).containers));
  if ('code' in manifest) return { ok: false, refusal: manifest };
  const after = injected(before, { ...publication, targets, settings, manifest });
  // What the operator's gate will ask of the pod (core/injection-check.ts), asked now: a pod
  // whose gate could never open (a volume over /etc/mathison, say) is refused with the reason.
  const policy = { allowOptOut: settings.allowOptOut === true };
  const check = checkInjection(after as InjectionPod, policy);
  if (!check.complete)
    return { ok: false, refusal: refuse('POD_INJECTION_INCOMPLETE', check.problem) };
  return { ok: true, patch: diff(before, after), ...publication };
}

interface Injection {
  genomeId: string;
  configMapName: string;
  targets: Set<string>;
  settings: InjectionSettings;
  /** The application containers in production mode, whose images the boot check verifies. */
  manifest: AppImageCheck[];
}

/** The names of the containers to mount into, or a refusal for a name the pod lacks. */
function targetContainers(pod: Obj): Set<string> | Refusal {
  const names = asList(asObj(pod.spec).containers).map((c) => String(asObj(c).name));
  const listed = asObj(asObj(pod.metadata).annotations)[GENOME_CONTAINERS_ANNOTATION];
  if (typeof listed !== 'string') return new Set(names);
  const wanted = listed
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((n) => !names.includes(n));
  if (unknown.length > 0 || wanted.length === 0) {
    const what =
      unknown.length > 0
        ? `names ${unknown.map((n) => displayValue(n)).join(', ')}, not a container of the pod`
        : 'is empty';
    return refuse('POD_GENOME_ANNOTATION_INVALID', `${GENOME_CONTAINERS_ANNOTATION} ${what}`);
  }
  return new Set(wanted);
}

/**
 * The refusal of an annotation that would leave a container without the genome or the boot
 * check out, in a cluster that does not allow it: the pod's gate would never open.
 */
function optOutRefusal(pod: Obj, targets: Set<string>): Refusal | undefined {
  const names = asList(asObj(pod.spec).containers).map((c) => String(asObj(c).name));
  const left = names.filter((n) => !targets.has(n));
  const bootCheck = asObj(asObj(pod.metadata).annotations)[BOOT_CHECK_ANNOTATION] !== 'false';
  const what =
    left.length > 0
      ? `${GENOME_CONTAINERS_ANNOTATION} leaves ${left.map((n) => displayText(n)).join(', ')} without the genome`
      : bootCheck
        ? undefined
        : `${BOOT_CHECK_ANNOTATION}: "false" leaves the boot check out`;
  if (what === undefined) return undefined;
  return refuse(
    'POD_GENOME_ANNOTATION_INVALID',
    `${what}; this cluster does not allow it (the webhook's GENOME_ALLOW_INJECTION_OPT_OUT, the chart's podInjection.allowOptOut), because then not every application container runs on the verified genome. Remove the annotation`,
  );
}

/** The pod as it should be: the inputs decide every injected value, so this is idempotent. */
function injected(pod: Obj, plan: Injection): Obj {
  const meta = asObj(pod.metadata);
  const spec = asObj(pod.spec);
  const annotations = asObj(meta.annotations);
  const bootCheck = annotations[BOOT_CHECK_ANNOTATION] !== 'false';
  const status = {
    genomeId: plan.genomeId,
    configMap: plan.configMapName,
    containers: [...plan.targets].sort(),
    bootCheck,
  };
  const initContainers = asList(spec.initContainers).filter(
    (c) => asObj(c).name !== BOOT_CHECK_CONTAINER,
  );
  const existingCheck = asList(spec.initContainers).find(
    (c) => asObj(c).name === BOOT_CHECK_CONTAINER,
  );
  return {
    ...pod,
    metadata: {
      ...meta,
      annotations: {
        ...annotations,
        [GENOME_ID_ANNOTATION]: plan.genomeId,
        [INJECTION_STATUS_ANNOTATION]: JSON.stringify(status),
      },
    },
    spec: {
      ...spec,
      volumes: plan.manifest.reduce(
        (volumes, check) => upsert(volumes, appImageVolume(check)),
        upsert(asList(spec.volumes), genomeVolume(plan.configMapName)),
      ),
      containers: asList(spec.containers).map((c) =>
        plan.targets.has(String(asObj(c).name)) ? withGenome(asObj(c)) : c,
      ),
      // A native sidecar (an init container that keeps running) is an application container too.
      initContainers: [
        ...(bootCheck ? [bootCheckContainer(plan, existingCheck)] : []),
        ...initContainers.map((c) =>
          asObj(c).restartPolicy === 'Always' ? withGenome(asObj(c)) : c,
        ),
      ],
      readinessGates: upsertGate(asList(spec.readinessGates)),
    },
  };
}

function genomeVolume(configMapName: string): Obj {
  return { name: GENOME_VOLUME, configMap: { name: configMapName, defaultMode: 0o444 } };
}

const MOUNT = { name: GENOME_VOLUME, mountPath: GENOME_MOUNT_PATH, readOnly: true };
const PATH_ENV = { name: GENOME_PATH_ENV, value: `${GENOME_MOUNT_PATH}/${GENOME_CONFIGMAP_KEY}` };

/**
 * The mounts with the genome's (replacing any other mount of that volume or at that path); an
 * identical mount stays where it is, so that a mount added after it (the ServiceAccount token
 * of a reinvoked pod) does not make a second patch.
 */
function withMount(mounts: unknown[]): unknown[] {
  const kept = mounts.filter((m) => {
    const mount = asObj(m);
    if (isDeepStrictEqual(mount, MOUNT)) return true;
    return mount.name !== GENOME_VOLUME && !atOrUnderGenome(mount.mountPath);
  });
  return kept.some((m) => isDeepStrictEqual(m, MOUNT)) ? kept : [...kept, MOUNT];
}

/**
 * Whether a mount path is the genome's directory or inside it (a deeper mount is applied after
 * the genome's and would sit on top of genome.json).
 */
function atOrUnderGenome(path: unknown): boolean {
  if (typeof path !== 'string') return false;
  // The kubelet makes a relative mount path absolute: 'etc/mathison/genome' is the genome's.
  const clean = posix.normalize(`/${path}`).replace(/\/+$/, '');
  return clean === GENOME_MOUNT_PATH || clean.startsWith(`${GENOME_MOUNT_PATH}/`);
}

/** A container with the genome mounted and the variable set. */
function withGenome(container: Obj): Obj {
  return {
    ...container,
    volumeMounts: withMount(asList(container.volumeMounts)),
    env: upsert(asList(container.env), PATH_ENV),
  };
}

/** Where the ServiceAccount plugin (and token projectors like it) mount credentials. */
const CREDENTIALS_PATH = '/var/run/secrets/';

/**
 * The boot check init container. On a pod that already has one of that name (a reinvocation,
 * or a pod that brings its own), only the read-only mounts under /var/run/secrets/ that the
 * ServiceAccount plugin adds are kept. Anything else could skip or fool the check (a command,
 * restartPolicy Always, envFrom, a mount over /app, a terminationMessagePath on its program),
 * so every other field is the plan's, the API server's defaults included.
 */
function bootCheckContainer(plan: Injection, existing: unknown): Obj {
  const own = ownBootCheck(plan);
  if (existing === undefined) return own;
  const mounts = own.volumeMounts as Obj[];
  const kept = asList(asObj(existing).volumeMounts).filter((m) => keptMount(m, mounts));
  const missing = mounts.filter((m) => !kept.some((k) => isDeepStrictEqual(k, m)));
  return { ...own, volumeMounts: [...kept, ...missing] };
}

/**
 * One of the boot check's own mounts, or a read-only credentials mount: the mounts a boot
 * check keeps.
 */
function keptMount(m: unknown, own: readonly Obj[]): boolean {
  const mount = asObj(m);
  if (own.some((o) => isDeepStrictEqual(mount, o))) return true;
  const path = mount.mountPath;
  return (
    mount.readOnly === true &&
    typeof path === 'string' &&
    path.startsWith(CREDENTIALS_PATH) &&
    !path.includes('..')
  );
}

function ownBootCheck(plan: Injection): Obj {
  return {
    name: BOOT_CHECK_CONTAINER,
    image: plan.settings.image,
    imagePullPolicy: plan.settings.imagePullPolicy,
    args: ['/app/genome-boot-check.mjs'],
    // The API server's defaults, set here so that a reinvocation finds nothing to change.
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    env: [
      PATH_ENV,
      { name: EXPECTED_ID_ENV, value: plan.genomeId },
      ...(plan.manifest.length > 0 ? [TERMINATION_ENV, manifestChecksEnv(plan.manifest)] : []),
    ],
    volumeMounts: [MOUNT, ...plan.manifest.map(appImageMount)],
    resources: {
      requests: { cpu: '10m', memory: '32Mi' },
      limits: { memory: '128Mi' },
    },
    // No runAsUser: the image's USER is numeric (65532), so runAsNonRoot holds without one,
    // and platforms that assign each namespace its UIDs (OpenShift's restricted-v2) refuse a
    // fixed one. RuntimeDefault seccomp: Pod Security "restricted" asks it of every container.
    securityContext: {
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
  };
}

function upsertGate(gates: unknown[]): unknown[] {
  const has = gates.some((g) => asObj(g).conditionType === VERIFIED_READINESS_GATE);
  return has ? gates : [...gates, { conditionType: VERIFIED_READINESS_GATE }];
}

/**
 * The list with `item` in place of the first entry of the same name, or appended, and no other
 * entry of that name (of two entries of one variable, the kubelet takes the last).
 */
function upsert(list: unknown[], item: Obj): unknown[] {
  const index = list.findIndex((e) => asObj(e).name === item.name);
  if (index === -1) return [...list, item];
  return list.flatMap((e, i) => (i === index ? [item] : asObj(e).name === item.name ? [] : [e]));
}

/** One `add` per changed top-level field of metadata and spec (add replaces an existing member). */
function diff(before: Obj, after: Obj): PatchOperation[] {
  const patch: PatchOperation[] = [];
  for (const part of ['metadata', 'spec'] as const) {
    const was = asObj(before[part]);
    const now = asObj(after[part]);
    for (const key of Object.keys(now)) {
      const empty = Array.isArray(now[key]) && (now[key] as unknown[]).length === 0;
      if (empty && was[key] === undefined) continue;
      // Deep equality regardless of key order: the API server sends objects in Go's field order.
      if (!isDeepStrictEqual(was[key], now[key]))
        patch.push({ op: 'add', path: `/${part}/${key}`, value: now[key] });
    }
  }
  return patch;
}

function asObj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
