/**
 * genome-selfcheck: run by the Helm chart in the product image, as the post-install and
 * post-upgrade hook (--switch) and as the `helm test` pod.
 *
 * Both send Genome creates with dryRun=All (nothing is stored) to GENOME_SELFCHECK_NAMESPACE,
 * where the webhook checks them: a tampered copy of GENOME_SELFCHECK_GENOME_PATH must be
 * refused with GENOME_INVALID_SIGNATURE by the webhook itself, and (GENOME_SELFCHECK_EXPECT_GOOD
 * =true) the genome as signed must be admitted.
 *
 * --switch waits (up to GENOME_SELFCHECK_TIMEOUT_SECONDS) until a replica answers so, then
 * sets failurePolicy Fail on the configurations named WEBHOOK_CONFIGURATION (validating and
 * mutating), once the mutating one carries the same caBundle as the validating one, and marks
 * both as proven (the chart then renders Fail for good). So the configurations are never
 * fail-closed by this switch before a replica can answer.
 * Without --switch (helm test) it checks once the webhook is answering and that both
 * configurations are fail-closed. Prints one JSON line per step; exits 0 only when all pass.
 */
import { readFileSync } from 'node:fs';
import {
  AdmissionregistrationV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { judgeGood, judgeTampered, tamper, type Verdict } from '../cli/selfcheck-plan.ts';
import { PooledKubeConfig } from '../kube/kubeconfig.ts';
import { dryRunCreateGenome } from '../cli/dry-run.ts';

const env = process.env;
const namespace = env.GENOME_SELFCHECK_NAMESPACE ?? 'default';
const configuration = env.WEBHOOK_CONFIGURATION ?? 'genome-operator';
const expectGood = env.GENOME_SELFCHECK_EXPECT_GOOD === 'true';
const timeoutMs = Number(env.GENOME_SELFCHECK_TIMEOUT_SECONDS ?? '180') * 1000;
const genomePath = env.GENOME_SELFCHECK_GENOME_PATH ?? '/etc/genome-selfcheck/genome.json';
const switching = process.argv.includes('--switch');
/** The chart's go.provenAnnotation: this release's webhook was proven to answer. */
const PROVEN_ANNOTATION = 'genome.mathison.io/self-check-passed';

const say = (msg: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ msg, ...fields }));

const kc = new PooledKubeConfig();
kc.loadFromDefault();
const objects = kc.makeApiClient(CustomObjectsApi);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);

const dryRunCreate = (genome: Record<string, unknown>, what: string) =>
  dryRunCreateGenome(objects, namespace, genome, `selfcheck-${what}-`);

/** Asks until the verdict is not `wait` (or the deadline passes); returns the last verdict. */
async function until(deadline: number, ask: () => Promise<Verdict>): Promise<Verdict> {
  let last: Verdict;
  for (;;) {
    last = await ask();
    if (last.kind !== 'wait' || Date.now() > deadline) return last;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

type Configs = Awaited<ReturnType<typeof readConfigs>>;
async function readConfigs() {
  const [validating, mutating] = await Promise.all([
    admission.readValidatingWebhookConfiguration({ name: configuration }),
    admission.readMutatingWebhookConfiguration({ name: configuration }),
  ]);
  return { validating, mutating };
}
const policies = (c: Configs) => ({
  validating: c.validating.webhooks?.map((w) => w.failurePolicy),
  mutating: c.mutating.webhooks?.map((w) => w.failurePolicy),
});

function fail(why: string): never {
  say('self-check failed', { why });
  process.exit(1);
}

/** The tampered Genome refused by the webhook itself and, when expected, the good one admitted. */
async function checkAdmission(genome: Record<string, unknown>, deadline: number): Promise<void> {
  const tampered = await until(deadline, async () =>
    judgeTampered(await dryRunCreate(tamper(genome), 'tampered')),
  );
  if (tampered.kind !== 'refused') fail(`tampered Genome: ${explain(tampered)}`);
  say('the webhook refused a tampered Genome', {
    code: tampered.code,
    namespace,
    ...(tampered.code === 'TRUST_KEYS_MISSING' && {
      note: 'no key is trusted yet: every Genome is refused until a trust Secret holds one',
    }),
  });
  if (!expectGood) {
    say('no good Genome to check: set selfCheck.genome or trust.testKey');
    return;
  }
  const good = await until(deadline, async () => judgeGood(await dryRunCreate(genome, 'good')));
  if (good.kind !== 'admitted') fail(`good Genome: ${explain(good)}`);
  say('the webhook admitted the good Genome', { name: genome.name, version: genome.version });
}

const explain = (v: Verdict): string => ('why' in v ? v.why : v.kind);

/**
 * Sets failurePolicy Fail on both configurations, once the mutating one (served by the same
 * replicas) carries the caBundle of the validating one, just proven to work.
 */
async function switchToFailClosed(deadline: number): Promise<void> {
  const configs = await until(deadline, async () => {
    const c = await readConfigs();
    const a = c.validating.webhooks?.[0]?.clientConfig.caBundle;
    const b = c.mutating.webhooks?.[0]?.clientConfig.caBundle;
    return a !== undefined && a === b ? { kind: 'admitted' } : { kind: 'wait', why: 'caBundle' };
  });
  if (configs.kind !== 'admitted') fail('the mutating configuration never got the caBundle');
  const patch = [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Fail' }];
  const options = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  await admission.patchValidatingWebhookConfiguration(
    { name: configuration, body: patch },
    options,
  );
  await admission.patchMutatingWebhookConfiguration({ name: configuration, body: patch }, options);
  // The chart renders Fail from now on wherever it finds this mark (its go.failurePolicy), even
  // on a configuration someone opened by hand (break glass) before an upgrade.
  const mark = { metadata: { annotations: { [PROVEN_ANNOTATION]: new Date().toISOString() } } };
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await admission.patchValidatingWebhookConfiguration({ name: configuration, body: mark }, merge);
  await admission.patchMutatingWebhookConfiguration({ name: configuration, body: mark }, merge);
  say('switched the webhook configurations to failurePolicy Fail', { configuration });
}

async function checkFailClosed(): Promise<void> {
  const p = policies(await readConfigs());
  const closed = [...(p.validating ?? []), ...(p.mutating ?? [])].every((x) => x === 'Fail');
  if (!closed) fail(`the webhook configurations are not fail-closed: ${JSON.stringify(p)}`);
  say('both webhook configurations are fail-closed', p);
}

async function main(): Promise<void> {
  const genome = JSON.parse(readFileSync(genomePath, 'utf8')) as Record<string, unknown>;
  const deadline = Date.now() + (switching ? timeoutMs : 30_000);
  await checkAdmission(genome, deadline);
  if (switching) await switchToFailClosed(deadline);
  else await checkFailClosed();
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
