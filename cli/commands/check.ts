/**
 * genome check [--namespace N] [--wait 2m]: probes an install as `cmctl check api` does (steps
 * in cli/check-steps.ts). With --wait, failing steps are tried again until the deadline.
 * Exits 0 when every step passes, 1 otherwise; each failing step says what to do.
 */
import { displayText } from '../../core/display.ts';
import { type Command, type Invocation } from '../command.ts';
import { STEPS, type CheckTarget, type StepResult } from '../check-steps.ts';
import { KUBE_FLAGS, KUBE_OPTIONS, loadKubeConfig, namespaceOf } from '../cluster.ts';
import { usage } from '../io.ts';

/** A Go-style duration of h, m, s (`2m`, `1m30s`, `90s`, `0`) in ms; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (match === null || text === '') return undefined;
  const [h, m, s] = match.slice(1).map((x) => Number(x ?? 0));
  return ((h! * 60 + m!) * 60 + s!) * 1000;
}

const RETRY_MS = 2000;

async function runSteps(target: CheckTarget, deadline: number): Promise<StepResult[]> {
  for (;;) {
    const results: StepResult[] = [];
    for (const step of STEPS) results.push(await step.run(target));
    if (results.every((r) => r.ok) || Date.now() + RETRY_MS > deadline) return results;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

function target(invocation: Invocation): { target: CheckTarget; waitMs: number } {
  const { values, positionals, usageLine } = invocation;
  if (positionals.length > 0) usage(usageLine);
  const waitMs = parseDuration(typeof values.wait === 'string' ? values.wait : '0');
  if (waitMs === undefined) usage(`${usageLine}  (--wait takes a duration such as 2m or 90s)`);
  const kc = loadKubeConfig(invocation);
  const str = (v: unknown, fallback: string) => (typeof v === 'string' && v !== '' ? v : fallback);
  return {
    waitMs,
    target: {
      kc,
      namespace: namespaceOf(kc, values.namespace),
      operatorNamespace: str(values['operator-namespace'], ''),
      leaseName: str(values['lease-name'], ''),
    },
  };
}

async function run(invocation: Invocation): Promise<number> {
  const { target: t, waitMs } = target(invocation);
  let results: StepResult[];
  try {
    results = await runSteps(t, Date.now() + waitMs);
  } finally {
    await t.kc.closeConnections();
  }
  results.forEach((r, i) => {
    const name = STEPS[i]!.name.padEnd(9);
    if (r.ok) console.log(`ok    ${name} ${r.detail}`);
    else console.log(`FAIL  ${name} ${r.why}\n      what to do: ${r.todo}`);
  });
  const failing = results.filter((r) => !r.ok).length;
  if (failing === 0) return 0;
  console.error(
    `genome check: ${failing} of ${results.length} steps failed${waitMs > 0 ? ` after waiting ${displayText(String(invocation.values.wait))}` : ''}`,
  );
  return 1;
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'probe an install: CRDs served, the webhook refusing, an operator leading',
  synopsis:
    '[-n <namespace>] [--wait <duration>] [--operator-namespace <ns>] [--lease-name <name>] [--kubeconfig <file>] [--context <name>]',
  description: [
    'Probes an install as `cmctl check api` does: (1) the CRDs are served, (2) a dry-run create',
    'of a tampered Genome in the namespace is refused BY THE WEBHOOK with GENOME_INVALID_SIGNATURE',
    '(so the webhook is registered and answering; nothing is stored), (3) an operator replica',
    'holds the leader Lease. Exit 0 when every step passes, 1 otherwise (each failing step says',
    'what to do), 2 on a usage error.',
  ],
  flags: [
    "  -n, --namespace <ns>          where the tampered Genome is tried (else the context's, else default)",
    '      --wait <duration>         try again until this long has passed (2m, 90s, 1m30s; default 0)',
    "      --operator-namespace <ns> the operator's namespace, where its Lease is (default: the namespace",
    "                                of the Service the Genome webhook's configuration calls; else genome-system)",
    "      --lease-name <name>       the leader Lease (default: the chart's name beside that Service; else genome-operator)",
    ...KUBE_FLAGS,
  ],
  options: {
    namespace: { type: 'string', short: 'n' },
    wait: { type: 'string' },
    'operator-namespace': { type: 'string' },
    'lease-name': { type: 'string' },
    ...KUBE_OPTIONS,
  },
  run,
};
