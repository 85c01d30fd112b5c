/**
 * Whether a pod runs every application container on the injected genome: what the readiness
 * gate genome.mathison.io/verified means. Pure, over the few fields of a pod it reads. A pod
 * whose injection is incomplete (the boot check left out, a container without the genome, a
 * container that reads its genome from elsewhere) never gets its gate True, whatever let it
 * through admission (a cluster that allows the opt-out annotations, a webhook that was not
 * consulted).
 */
import posixPath from 'node:path/posix';
import { GENOME_CONFIGMAP_KEY } from './api.ts';
import { displayText } from './display.ts';

/** Where the genome is mounted in each container (core/plan-injection.ts injects it there). */
const MOUNT_PATH = '/etc/mathison/genome';
const VOLUME = 'mathison-genome';
const PATH_ENV = 'MATHISON_GENOME_PATH';
const BOOT_CHECK = 'genome-verify';
const CONTAINERS_ANNOTATION = 'genome.mathison.io/containers';
const BOOT_CHECK_ANNOTATION = 'genome.mathison.io/boot-check';

/** A container, as far as its genome goes. */
export interface ContainerView {
  name?: string;
  restartPolicy?: string;
  volumeMounts?: { name?: string; mountPath?: string; readOnly?: boolean }[];
  env?: { name?: string; value?: string; valueFrom?: unknown }[];
}

/** A pod spec, as far as its injection goes. */
export interface InjectionView {
  initContainers?: ContainerView[];
  containers?: ContainerView[];
  /** Added after admission (kubectl debug): they run in the pod too. */
  ephemeralContainers?: ContainerView[];
}

/** Whether a pod's injection is complete, as the operator's pod cache records it. */
export type InjectionCheck = { complete: true } | { complete: false; problem: string };

/** What a cluster allows: the annotations that narrow the injection (default: not). */
export interface InjectionPolicy {
  /**
   * The pod's own `genome.mathison.io/boot-check: "false"` and `genome.mathison.io/containers`
   * count: a weaker guarantee (the gate then says only that the listed containers have the
   * genome, and perhaps without a boot check).
   */
  allowOptOut: boolean;
}

/** A pod, as far as its injection goes. */
export interface InjectionPod {
  metadata?: { annotations?: Record<string, string> };
  spec?: InjectionView;
}

/** Whether a pod's injection is complete under `policy`, or why not. */
export function checkInjection(pod: InjectionPod, policy: InjectionPolicy): InjectionCheck {
  const problem = incompleteInjection(pod.spec, policy.allowOptOut ? optOutOf(pod) : undefined);
  return problem === undefined ? { complete: true } : { complete: false, problem };
}

/** What the pod's own annotations leave out, where the cluster allows it. */
interface OptOut {
  bootCheck: boolean;
  /** The containers that get the genome; undefined: all. */
  containers?: ReadonlySet<string>;
}

function optOutOf(pod: InjectionPod): OptOut {
  const annotations = pod.metadata?.annotations ?? {};
  const listed = annotations[CONTAINERS_ANNOTATION];
  const names = listed?.split(',').map((n) => n.trim());
  return {
    bootCheck: annotations[BOOT_CHECK_ANNOTATION] !== 'false',
    ...(names !== undefined && { containers: new Set(names.filter(Boolean)) }),
  };
}

/**
 * Why the pod's injection is incomplete, or undefined when it is complete: the boot check is
 * its first init container, and every application container (its containers, init containers
 * that keep running beside them: restartPolicy Always, and ephemeral containers) mounts the
 * genome volume read-only at the genome's directory, with nothing else there or above, and has
 * MATHISON_GENOME_PATH pointing at it.
 */
export function incompleteInjection(
  spec: InjectionView | undefined,
  optOut: OptOut = { bootCheck: true },
): string | undefined {
  if (optOut.bootCheck && spec?.initContainers?.[0]?.name !== BOOT_CHECK)
    return `the boot check (init container ${BOOT_CHECK}) is not the pod's first init container: the genome is not verified before the application starts`;
  const checked = applicationContainers(spec, optOut.containers);
  if (checked.length === 0)
    return `${CONTAINERS_ANNOTATION} names no container of the pod: none runs on the verified genome`;
  return checked.map(containerProblem).find((problem) => problem !== undefined);
}

/** The containers that must run on the genome: all of them, or those `listed` (an opt-out). */
function applicationContainers(
  spec: InjectionView | undefined,
  listed: ReadonlySet<string> | undefined,
): ContainerView[] {
  const { initContainers = [], containers = [], ephemeralContainers = [] } = spec ?? {};
  const sidecars = initContainers.filter(
    (c) => c.restartPolicy === 'Always' && c.name !== BOOT_CHECK,
  );
  const all = [...containers, ...sidecars, ...ephemeralContainers];
  return listed === undefined ? all : all.filter((c) => listed.has(c.name ?? ''));
}

/** Why a container may not run on the verified genome, or undefined. */
function containerProblem(container: ContainerView): string | undefined {
  const problem = mountProblem(container.volumeMounts ?? []) ?? envProblem(container.env ?? []);
  if (problem === undefined) return undefined;
  return `container ${displayText(container.name ?? '')} ${problem}, so it may not run on the verified genome`;
}

/**
 * The genome volume mounted read-only at its directory, nothing else there or below, and
 * nothing over a directory above it (a volume at /etc/mathison can hold a `genome` of its own,
 * or a symlink the genome's mount would follow).
 */
function mountProblem(mounts: NonNullable<ContainerView['volumeMounts']>): string | undefined {
  const above = mounts.find((m) => m.name !== VOLUME && isAncestor(m.mountPath));
  if (above !== undefined)
    return `mounts ${displayText(above.name ?? '')} at ${displayText(clean(above.mountPath) || '/')}, over the genome's directory`;
  const genome = mounts.filter((m) => m.name === VOLUME || atOrUnder(m.mountPath));
  const [only] = genome;
  if (genome.length !== 1 || only?.name !== VOLUME || clean(only.mountPath) !== MOUNT_PATH)
    return `does not mount the genome (volume ${VOLUME} at ${MOUNT_PATH}, and nothing else there)`;
  return only.readOnly === true ? undefined : 'mounts the genome writable';
}

/** MATHISON_GENOME_PATH set once, to the mounted genome. */
function envProblem(env: NonNullable<ContainerView['env']>): string | undefined {
  const path = env.filter((e) => e.name === PATH_ENV);
  const want = `${MOUNT_PATH}/${GENOME_CONFIGMAP_KEY}`;
  const [only] = path;
  const right = path.length === 1 && only?.value === want && only.valueFrom === undefined;
  return right ? undefined : `does not have ${PATH_ENV}=${want}`;
}

/**
 * A mount path as the kubelet takes it: relative to the root when not absolute (it makes every
 * mount path absolute), normalized, without a trailing slash ('' for the root).
 */
function clean(path: string | undefined): string {
  return posixPath.normalize(`/${path ?? ''}`).replace(/\/+$/, '');
}

/** The root, /etc or /etc/mathison: a directory the genome's directory lies in. */
function isAncestor(path: string | undefined): boolean {
  const p = clean(path);
  return MOUNT_PATH.startsWith(`${p}/`);
}

function atOrUnder(path: string | undefined): boolean {
  const p = clean(path);
  return p === MOUNT_PATH || p.startsWith(`${MOUNT_PATH}/`);
}
