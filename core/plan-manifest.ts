/**
 * The part of the pod injection (core/plan-injection.ts) that makes the boot check verify the
 * genome's build manifest against each application container's own image, as Mathison does
 * at boot in production: which containers run in production mode (their own env, read as
 * Mathison reads it, core/build-manifest.ts manifestCheckFromEnv), the root inside each image,
 * the image volume that mounts it read-only into the boot check, and what the boot check is
 * told (env). Pure.
 */
import { posix } from 'node:path';
import { manifestCheckFromEnv } from './build-manifest.ts';
import { refuse, type Refusal } from './codes.ts';
import { displayText } from './display.ts';

/** Where the boot check finds the image of the pod's i-th application container. */
export const APP_IMAGE_MOUNT_ROOT = '/var/run/mathison-app-images';
/** The boot check's variable that lists the manifest checks, as JSON (ManifestCheck[]). */
export const MANIFEST_CHECKS_ENV = 'GENOME_MANIFEST_CHECKS';
/** The boot check's variable that names the file its refusal is written to. */
export const TERMINATION_PATH_ENV = 'GENOME_TERMINATION_MESSAGE_PATH';
/** The boot check's termination message path (the API server's default, as the plan sets it). */
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const TERMINATION_ENV = { name: TERMINATION_PATH_ENV, value: TERMINATION_MESSAGE_PATH };
/** The prefix of the image volumes' names (then the container's index in spec.containers). */
export const APP_IMAGE_VOLUME_PREFIX = 'mathison-app-image-';

/** One manifest check the boot check runs, as MANIFEST_CHECKS_ENV carries it. */
export interface ManifestCheck {
  /** The application container whose image this is. */
  container: string;
  /** Its image, as the pod names it (for the refusal's message). */
  image: string;
  /** The root to check, inside the boot check: the image's mount plus the root in the image. */
  root: string;
  /** Production rules (dist for src, placeholders refused). */
  production: boolean;
}

/** A check and where its image comes from. */
export interface AppImageCheck extends ManifestCheck {
  index: number;
  pullPolicy: string;
}

type Obj = Record<string, unknown>;
const asObj = (value: unknown): Obj =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/**
 * What an entry that the API server cannot tell at admission (valueFrom, or a $(reference)
 * the kubelet expands) counts as: the value that verifies, with production rules (fail closed).
 */
const UNKNOWN_COUNTS_AS: Readonly<Record<string, string>> = {
  MATHISON_ENV: 'production',
  MATHISON_VERIFY_MANIFEST: 'true',
  MATHISON_USE_DIST: 'true',
};

/** A container's env as the application will see it, where the pod says; unknown values undefined. */
function declaredEnv(container: Obj): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const entry of asList(container.env).map(asObj)) {
    if (typeof entry.name !== 'string') continue;
    const literal = typeof entry.value === 'string' && !entry.value.includes('$(');
    // Of two entries of one name, the kubelet takes the last.
    env.delete(entry.name);
    if (literal) env.set(entry.name, entry.value as string);
    else if (entry.valueFrom !== undefined || entry.value !== undefined)
      env.set(entry.name, undefined);
  }
  return env;
}

/** The env manifestCheckFromEnv reads: an unknown value of its variables counts as verifying. */
function modeEnv(env: Map<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(
    [...env].map(([name, value]) => [name, value ?? UNKNOWN_COUNTS_AS[name]]),
  );
}

/** The absolute root Mathison checks in its image (MATHISON_REPO_ROOT, else workingDir), if known. */
function rootInImage(container: Obj, env: Map<string, string | undefined>): string | undefined {
  const dir = typeof container.workingDir === 'string' ? container.workingDir : undefined;
  const workingDir = dir !== undefined && posix.isAbsolute(dir) ? dir : undefined;
  if (env.has('MATHISON_REPO_ROOT')) {
    const repo = env.get('MATHISON_REPO_ROOT');
    if (repo === undefined || repo === '') return undefined;
    if (posix.isAbsolute(repo)) return posix.normalize(repo);
    return workingDir === undefined ? undefined : posix.resolve(workingDir, repo);
  }
  return workingDir === undefined ? undefined : posix.normalize(workingDir);
}

/** The API server's default pull policy for an image reference. */
function defaultPullPolicy(image: string): string {
  if (image.includes('@')) return 'IfNotPresent';
  const name = image.slice(image.lastIndexOf('/') + 1);
  const tag = name.includes(':') ? name.slice(name.indexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/**
 * The manifest checks of the pod's application containers in production mode, or the refusal
 * of one whose root in its image is unknown (the boot check could not check what Mathison will).
 */
export function planManifestChecks(containers: readonly unknown[]): AppImageCheck[] | Refusal {
  const checks: AppImageCheck[] = [];
  for (const [index, item] of containers.entries()) {
    const container = asObj(item);
    const env = declaredEnv(container);
    const rules = manifestCheckFromEnv(modeEnv(env));
    if (rules === undefined) continue;
    const name = String(container.name);
    const root = rootInImage(container, env);
    if (root === undefined) return rootUnknown(name);
    const image = typeof container.image === 'string' ? container.image : '';
    const policy = container.imagePullPolicy;
    checks.push({
      index,
      container: name,
      image,
      root: posix.join(`${APP_IMAGE_MOUNT_ROOT}/${index}`, root),
      production: rules.production,
      pullPolicy: typeof policy === 'string' && policy !== '' ? policy : defaultPullPolicy(image),
    });
  }
  return checks;
}

function rootUnknown(container: string): Refusal {
  return refuse(
    'GENOME_MANIFEST_ROOT_UNKNOWN',
    `container ${displayText(container)} runs Mathison in production mode (MATHISON_ENV=production or MATHISON_VERIFY_MANIFEST=true, or set by valueFrom), so the boot check verifies the genome's build manifest against its image, but its root in the image is not known at admission: set MATHISON_REPO_ROOT to a literal absolute path, or the container's workingDir`,
  );
}

/** The image volume of a check: the container's own image, pulled as the container's. */
export function appImageVolume(check: AppImageCheck): Obj {
  return {
    name: `${APP_IMAGE_VOLUME_PREFIX}${check.index}`,
    image: { reference: check.image, pullPolicy: check.pullPolicy },
  };
}

/** Its read-only mount into the boot check. */
export function appImageMount(check: AppImageCheck): Obj {
  return {
    name: `${APP_IMAGE_VOLUME_PREFIX}${check.index}`,
    mountPath: `${APP_IMAGE_MOUNT_ROOT}/${check.index}`,
    readOnly: true,
  };
}

/** The variable that tells the boot check what to verify. */
export function manifestChecksEnv(checks: readonly AppImageCheck[]): Obj {
  const value: ManifestCheck[] = checks.map(({ container, image, root, production }) => ({
    container,
    image,
    root,
    production,
  }));
  return { name: MANIFEST_CHECKS_ENV, value: JSON.stringify(value) };
}
