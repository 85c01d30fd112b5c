import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { PRODUCT_VERSION } from '../core/version.ts';
import { createRuntimeMetrics, type RuntimeMetrics } from './runtime/metrics.ts';

/** The operator's Prometheus metrics, on a registry of their own. */
export interface OperatorMetrics {
  registry: Registry;
  /** Verification results, labelled `result` = Verified or the refusal code. */
  verifications: Counter<'result'>;
  /** The controllers' own: queue depth, retries, reconcile duration by controller and outcome. */
  runtime: RuntimeMetrics;
  /** Genome texts held in memory (operator/genome-store.ts): recent and pending ones. */
  textsHeld: Gauge;
  /** The length of the genome texts held, in characters (operator/genome-store.ts). */
  textBytesHeld: Gauge;
  /** Genomes read back from the API server because their text was not held. */
  textReads: Counter;
  trustedKeys: Gauge;
  /** Trust Secret entries refused (never used), labelled `private_key` = true or false. */
  refusedKeys: Gauge<'private_key'>;
  /** Unix time of the last successful read of the trusted keys. */
  lastKeySync: Gauge;
  keysStale: Gauge;
  /** Genomes each trust policy matches, by whether it held (Audit's report, Warn's preview). */
  policyGenomes: Gauge;
  /** not-after of each trust Secret's keys, by Secret and key id (as cert-manager's expiry). */
  keyExpiry: Gauge;
  /** Unix time at which the webhook's serving certificate expires. */
  webhookCertificateExpiry: Gauge;
  /** 1 while this replica holds the Lease. */
  leader: Gauge;
  /** Pod readiness-gate conditions written, labelled `status` = True or False. */
  gateWrites: Counter<'status'>;
  /** Pod templates stamped with a new genome id (rollouts started), labelled `kind`. */
  rollouts: Counter<'kind'>;
  /** Each Genome's conditions, as the operator decided them (recordGenomeConditions). */
  genomeConditions: Gauge<GenomeConditionLabel>;
  /** 1, labelled with the product's version and Node's. */
  buildInfo: Gauge<'version' | 'node_version'>;
}

/** The labels of genome_condition. */
export type GenomeConditionLabel = 'namespace' | 'name' | 'condition' | 'status';

/**
 * The condition types genome_condition reports, the statuses each may have, and the status
 * reported when the Genome's status does not carry it: Unknown for Verified and Ready (not
 * decided yet), False for TrustExpiring (the operator sets it only while it is True).
 */
const REPORTED = [
  { condition: 'Verified', statuses: ['True', 'False', 'Unknown'], absent: 'Unknown' },
  { condition: 'Ready', statuses: ['True', 'False', 'Unknown'], absent: 'Unknown' },
  { condition: 'TrustExpiring', statuses: ['True', 'False'], absent: 'False' },
] as const;

/**
 * Sets a Genome's genome_condition series from its status's conditions, as cert-manager's
 * certmanager_certificate_ready_status: 1 on each reported type's current status, 0 on the
 * others. Labels are the Genome's namespace and name (bounded by the API server) and fixed
 * words, never text from the genome.
 */
export function recordGenomeConditions(
  gauge: Gauge<GenomeConditionLabel>,
  genome: { namespace: string; name: string },
  conditions: readonly { type: string; status: string }[],
): void {
  for (const { condition, statuses, absent } of REPORTED) {
    const current = conditions.find((c) => c.type === condition)?.status ?? absent;
    for (const status of statuses)
      gauge.set({ ...genome, condition, status }, status === current ? 1 : 0);
  }
}

/** Removes a Genome's genome_condition series (the Genome is gone). */
export function forgetGenomeConditions(
  gauge: Gauge<GenomeConditionLabel>,
  genome: { namespace: string; name: string },
): void {
  for (const { condition, statuses } of REPORTED)
    for (const status of statuses) gauge.remove({ ...genome, condition, status });
}

/**
 * Creates the operator's metrics on a fresh registry, with Node's process metrics under their
 * standard names (process_*, nodejs_*, as dashboards expect) and under the older
 * genome_operator_ prefix (kept for the dashboards and benches that read them).
 */
export function createMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  collectDefaultMetrics({ register: registry, prefix: 'genome_operator_' });
  const registers = [registry];
  return {
    registry,
    ...stateMetrics(registers),
    verifications: new Counter({
      name: 'genome_verifications_total',
      help: 'Genome verifications by result: Verified, or the refusal code.',
      labelNames: ['result'],
      registers,
    }),
    runtime: createRuntimeMetrics(registry),
    ...genomeStoreMetrics(registers),
    trustedKeys: new Gauge({
      name: 'genome_trusted_keys',
      help: 'Usable trusted keys loaded from the trust Secrets.',
      registers,
    }),
    refusedKeys: new Gauge({
      name: 'genome_trusted_keys_refused',
      help: 'Trust Secret entries refused and never used (private key material, bad encodings, conflicts).',
      labelNames: ['private_key'],
      registers,
    }),
    lastKeySync: new Gauge({
      name: 'genome_trusted_keys_last_sync_timestamp_seconds',
      help: 'Unix time of the last successful load of the trusted keys.',
      registers,
    }),
    policyGenomes: new Gauge({
      name: 'genome_trust_policy_genomes',
      help: 'Genomes each GenomeTrustPolicy matches, by mode and by result: held, or not_held (for a Warn or Audit policy, those it would refuse if enforced).',
      labelNames: ['policy', 'mode', 'result'],
      registers,
    }),
    keyExpiry: new Gauge({
      name: 'genome_trusted_key_expiration_timestamp_seconds',
      help: 'The not-after (annotation genome.mathison.io/not-after) of each trusted key, by trust Secret and key id: alert ahead of it, as on cert-manager certificate expiry.',
      labelNames: ['secret', 'key_id'],
      registers,
    }),
    keysStale: new Gauge({
      name: 'genome_trusted_keys_stale',
      help: '1 while the trusted keys are stale (their watch down past its bound): no gate opens, no verdict is published.',
      registers,
    }),
    webhookCertificateExpiry: new Gauge({
      name: 'genome_webhook_certificate_expiry_timestamp_seconds',
      help: "Unix time at which the webhook's serving certificate expires.",
      registers,
    }),
    leader: new Gauge({
      name: 'genome_operator_leader',
      help: '1 while this replica holds the leader Lease, else 0.',
      registers,
    }),
    gateWrites: new Counter({
      name: 'genome_pod_gate_writes_total',
      help: 'Readiness gate conditions (genome.mathison.io/verified) written to pods, by status.',
      labelNames: ['status'],
      registers,
    }),
    rollouts: new Counter({
      name: 'genome_rollouts_total',
      help: 'Pod templates stamped with a new verified genome id (rolling updates started), by kind.',
      labelNames: ['kind'],
      registers,
    }),
  };
}

/** The state gauges: each Genome's conditions, and the build. */
function stateMetrics(registers: Registry[]) {
  const buildInfo = new Gauge({
    name: 'genome_operator_build_info',
    help: "1, labelled with the operator's version and the Node.js version it runs on.",
    labelNames: ['version', 'node_version'],
    registers,
  });
  buildInfo.set({ version: PRODUCT_VERSION, node_version: process.version }, 1);
  return {
    buildInfo,
    genomeConditions: new Gauge({
      name: 'genome_condition',
      help: "1 for each Genome's current status (True, False, Unknown) of each condition (Verified, Ready), 0 for the others: as the operator last decided it; removed when the Genome is deleted.",
      labelNames: ['namespace', 'name', 'condition', 'status'],
      registers,
    }),
  };
}

/** The Genome store's metrics (operator/genome-store.ts keeps them current). */
function genomeStoreMetrics(registers: Registry[]) {
  return {
    textsHeld: new Gauge({
      name: 'genome_texts_held',
      help: 'Genome texts held in memory: those a reconcile is on its way for or used lately.',
      registers,
    }),
    textBytesHeld: new Gauge({
      name: 'genome_text_bytes_held',
      help: 'Characters of genome text held in memory (bounded by the store budget).',
      registers,
    }),
    textReads: new Counter({
      name: 'genome_text_reads_total',
      help: 'Genomes read back from the API server because their text was not held.',
      registers,
    }),
  };
}
