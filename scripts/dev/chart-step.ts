/**
 * `make dev` on a KUBECONFIG cluster: the product installed with the Helm chart
 * (charts/genome-operator), as a user installs it, instead of local processes. The images go
 * onto the nodes first (sample-step), then `helm upgrade --install --wait` (the self-check hook
 * included), the TOTK Genome, the sample workload; Ctrl-C removes the sample and uninstalls the
 * release (the chart keeps the CRD by design).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PRODUCT_IMAGE } from '../../images/image-definitions.ts';
import { environmentWithoutProxies } from '../../cluster/processes.ts';
import { showVerified } from './operator-step.ts';
import { PRODUCTION_APP, PRODUCTION_GENOME, productionWorkloadStep } from './production-sample.ts';
import {
  SAMPLE_APP,
  SAMPLE_GENOME,
  SAMPLE_NAMESPACE,
  sampleImages,
  sampleWorkloadStep,
} from './sample-step.ts';
import type { DevContext, DevStep } from './context.ts';
import { applySampleGenome } from './steps.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHART = join(ROOT, 'charts', 'genome-operator');
const NAMESPACE = process.env.GENOME_NAMESPACE ?? 'genome-system';
/** The release; its name contains the chart's, so its objects are named genome-operator(-...). */
export const RELEASE = process.env.GENOME_RELEASE ?? 'genome-operator';

/** What the chart install needs to know: where, and how the product image reached the nodes. */
export interface ChartInstall {
  release: string;
  namespace: string;
  chart: string;
  /** The product image the images step put on the nodes, and how. */
  image: { name: string; loaded: 'node' | 'kind' | 'user' };
  /** HELM_VALUES: values files the user passes (space- or comma-separated), applied last. */
  valuesFiles: string[];
  /** Namespaces that exist: the self-check's namespace is the sample's. */
  selfCheckNamespace: string;
}

/**
 * The `helm upgrade --install` arguments (pure). The chart's values-dev.yaml (the TEST key
 * trusted, production off) comes first. Where the images step put the product image on the
 * nodes itself (kind load, or the local node's import), the image values name that image with
 * pullPolicy Never; otherwise the chart's defaults stay and the user's values files decide.
 */
export function helmInstallArgs(install: ChartInstall): string[] {
  const args = [
    ...['upgrade', '--install', install.release, install.chart],
    ...['--namespace', install.namespace, '--create-namespace'],
    ...['--set', `selfCheck.namespace=${install.selfCheckNamespace}`],
  ];
  if (install.image.loaded !== 'user') {
    const at = install.image.name.lastIndexOf(':');
    args.push(
      ...['--set', `image.repository=${install.image.name.slice(0, at)}`],
      ...['--set', `image.tag=${install.image.name.slice(at + 1)}`],
      ...['--set', 'image.pullPolicy=Never', '--set', 'webhook.bootCheckPullPolicy=Never'],
    );
  }
  // The TEST key and production off: make dev is for trying the product, the chart's defaults
  // trust no key. The user's files come after, so they can say otherwise.
  args.push('--values', join(install.chart, 'values-dev.yaml'));
  for (const file of install.valuesFiles) args.push('--values', file);
  args.push('--wait', '--timeout', '5m');
  return args;
}

/** The values files of HELM_VALUES (space- or comma-separated paths). */
export function valuesFilesOf(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((f) => f !== '');
}

/** The chart's names for a release (see the chart's go.fullname). */
export function chartNames(release: string): { fullname: string; trustSecret: string } {
  const long = release.includes('genome-operator') ? release : `${release}-genome-operator`;
  const fullname = long.slice(0, 50).replace(/-+$/, '');
  return { fullname, trustSecret: `${fullname}-test-key` };
}

/** The helm that scripts/build-helm.sh builds (make helm); throws with what to do when missing. */
export function helmBinary(): string {
  const dir = spawnSync('bash', [join(ROOT, 'scripts', 'build-helm.sh'), '--print-dir'], {
    encoding: 'utf8',
  });
  if (dir.status !== 0) throw new Error(`helm is not built: run make helm (${dir.stderr.trim()})`);
  return join(dir.stdout.trim(), 'helm');
}

/** Runs helm against the dev cluster, its output shown; resolves with its exit code. */
function helm(ctx: DevContext, args: string[]): Promise<number> {
  const child = spawn(helmBinary(), [...args, '--kubeconfig', ctx.kubeconfigPath], {
    env: environmentWithoutProxies(),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
}

function kubectl(ctx: DevContext, args: string[], allowFailure = false): string {
  const out = spawnSync(ctx.kubectl, ['--kubeconfig', ctx.kubeconfigPath, ...args], {
    encoding: 'utf8',
    env: environmentWithoutProxies(),
  });
  if (out.status !== 0 && !allowFailure)
    throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim()}`);
  return out.stdout;
}

/**
 * Registers the uninstall before the install starts, so a failed or interrupted install is
 * undone too (helm uninstall of a release that is not there only says so). Deletes the release
 * namespace when this run created it.
 */
const uninstallOnExit: DevStep = {
  name: `uninstall the release ${RELEASE} on exit`,
  run: async (ctx) => {
    const existed =
      spawnSync(ctx.kubectl, ['--kubeconfig', ctx.kubeconfigPath, 'get', 'namespace', NAMESPACE], {
        env: environmentWithoutProxies(),
      }).status === 0;
    return async () => {
      console.log(`[dev] helm uninstall ${RELEASE} --namespace ${NAMESPACE}`);
      const code = await helm(ctx, [
        ...['uninstall', RELEASE, '--namespace', NAMESPACE, '--ignore-not-found'],
        ...['--wait', '--timeout', '2m'],
      ]);
      if (code !== 0) console.error(`[dev] helm uninstall exited with ${code}`);
      if (!existed) kubectl(ctx, ['delete', 'namespace', NAMESPACE, '--wait=false'], true);
      console.log(
        `[dev] uninstalled${existed ? '' : ` and deleted the namespace ${NAMESPACE}`}; the chart keeps ` +
          'the CRD genomes.mathison.io by design (Genomes outlive the release): ' +
          'kubectl delete crd genomes.mathison.io removes it and every Genome',
      );
    };
  },
};

/** Installs the chart: helm upgrade --install --wait (the self-check hook included). */
export const installChart: DevStep = {
  name: `install the Helm chart charts/genome-operator as release ${RELEASE} in ${NAMESPACE}`,
  run: async (ctx) => {
    const valuesFiles = valuesFilesOf(process.env.HELM_VALUES);
    const args = helmInstallArgs({
      release: RELEASE,
      namespace: NAMESPACE,
      chart: CHART,
      image: { name: PRODUCT_IMAGE.name, loaded: ctx.images ?? 'user' },
      valuesFiles,
      selfCheckNamespace: SAMPLE_NAMESPACE,
    });
    if ((ctx.images ?? 'user') === 'user' && valuesFiles.length === 0)
      console.log(
        `[dev] the chart's image values stay its defaults (${PRODUCT_IMAGE.name}, IfNotPresent); ` +
          'name your registry with make dev HELM_VALUES=my-values.yaml (see docs/install.md)',
      );
    console.log(`[dev] helm ${args.join(' ')}`);
    const code = await helm(ctx, args);
    if (code !== 0)
      throw new Error(
        `helm upgrade --install exited with ${code} (see kubectl -n ${NAMESPACE} get pods)`,
      );
    ctx.trustSecret = chartNames(RELEASE).trustSecret;
    ctx.namespace = NAMESPACE;
  },
};

/** Removes the samples (Deployments, Service, Genomes) on exit, while the release still runs. */
const removeSampleOnExit: DevStep = {
  name: `remove the samples on exit (${SAMPLE_NAMESPACE}/${SAMPLE_APP}, ${PRODUCTION_APP}, Genomes ${SAMPLE_GENOME}, ${PRODUCTION_GENOME})`,
  run: async (ctx) => async () => {
    kubectl(
      ctx,
      [
        ...['delete', '-n', SAMPLE_NAMESPACE, '--ignore-not-found', '--wait=false'],
        ...[`deployment/${SAMPLE_APP}`, `service/${SAMPLE_APP}`, `genome/${SAMPLE_GENOME}`],
        ...[`deployment/${PRODUCTION_APP}`, `genome/${PRODUCTION_GENOME}`],
      ],
      true,
    );
    console.log(
      `[dev] deleted the samples ${SAMPLE_NAMESPACE}/${SAMPLE_APP}, ${PRODUCTION_APP} and Genomes ${SAMPLE_GENOME}, ${PRODUCTION_GENOME}`,
    );
  },
};

/** The steps on a KUBECONFIG cluster, in order (the undo runs in reverse). */
export const chartSteps: DevStep[] = [
  sampleImages,
  uninstallOnExit,
  installChart,
  removeSampleOnExit,
  applySampleGenome,
  showVerified,
  sampleWorkloadStep,
  productionWorkloadStep,
];
