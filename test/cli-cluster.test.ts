/**
 * The cluster side of the `genome` CLI against the real API server: `genome status` explains a
 * verified and a refused Genome (exit 0 and 1, -o json, hostile Event text escaped),
 * `genome check` fails at the webhook step while no webhook is registered and passes once the
 * webhook and the operator are up, and the CLI runs as a kubectl plugin (`kubectl genome`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlBinary } from '../cluster/binaries.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { environmentWithoutProxies } from '../cluster/processes.ts';
import { genomeManifest } from '../core/manifest.ts';
import type { Genome } from '../core/genome.ts';
import { genomeWebhookConfiguration } from '../core/webhook-config.ts';
import { genome, keyPair, named, signedBy, totkGenome, trustSecret } from './builders/index.ts';
import {
  eventually,
  installGenomeCrd,
  kubeconfigPath,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import {
  endOperatorTest,
  operatorCredentials,
  readGenome,
  startOperator,
  type RunningOperator,
} from './support/operator.ts';
import { startWebhook, type RunningWebhook } from './support/webhook.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin');
const NODE_BIN = join(ROOT, 'node_modules', '.bin');
const totkKey = (totkGenome().authority.signers[0] as { key_id: string; public_key: string })!;
const mallory = keyPair('mallory-key');

let ownNamespace: string;
let namespace: string;
let configName: string;
let operator: RunningOperator;
let webhook: RunningWebhook | undefined;

/** The environment of a CLI run: the test cluster's kubeconfig, node 24 and bin/ first on PATH. */
const cliEnv = () => ({
  ...environmentWithoutProxies(),
  KUBECONFIG: kubeconfigPath(),
  PATH: `${BIN}:${NODE_BIN}:${process.env.PATH ?? ''}`,
});

function genomeCli(args: string[]) {
  const out = spawnSync(join(NODE_BIN, 'node'), [join(BIN, 'genome'), ...args], {
    encoding: 'utf8',
    env: cliEnv(),
  });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

async function applyGenome(name: string, g: Genome) {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(genomeManifest(g, name, namespace)),
  });
}

/** Waits until the operator has written a Verified condition of this status for the generation. */
async function verifiedCondition(name: string, status: 'True' | 'False') {
  await eventually(`${name} Verified=${status}`, async () => {
    const g = await readGenome(namespace, name);
    const c = g?.status?.conditions?.find((x) => x.type === 'Verified');
    return c?.status === status && c.observedGeneration === g?.metadata.generation
      ? true
      : undefined;
  });
}

beforeAll(async () => {
  ownNamespace = await uniqueNamespace('genome-system');
  namespace = await uniqueNamespace('genomes');
  configName = `genome-cli-${namespace}`;
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(
      trustSecret(ownNamespace, 'trusted-keys', { [totkKey.key_id]: totkKey.public_key }, [
        totkKey.key_id,
      ]),
    ),
  });
  const kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({ namespace: ownNamespace, kubeconfig, identity: 'cli-op-0' });
  // Written before any webhook is registered, so that the operator is the one to refuse them.
  await applyGenome('totk', totkGenome());
  await applyGenome('untrusted', genome(signedBy(mallory), named('UNTRUSTED\u001b[31m\u202e')));
  await verifiedCondition('totk', 'True');
  await verifiedCondition('untrusted', 'False');
}, 180_000);

afterAll(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
  await endOperatorTest(operator, ownNamespace, [namespace]);
});

describe('genome status', () => {
  it('a verified Genome: exit 0, VERIFIED, its conditions and Events', () => {
    const out = genomeCli(['status', 'totk', '-n', namespace]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`Genome ${namespace}/totk: VERIFIED`);
    expect(out.stdout).toMatch(/^ {2}Verified +True +Verified/m);
    expect(out.stdout).toMatch(/^ {2}Ready +True/m);
    expect(out.stdout).toContain(totkKey.key_id);
  });

  it('a refused Genome: exit 1, the code, what it means and what to do', () => {
    const out = genomeCli(['status', 'untrusted', '-n', namespace]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain(`Genome ${namespace}/untrusted: NOT VERIFIED`);
    expect(out.stdout).toMatch(/^ {2}Verified +False +GENOME_UNTRUSTED_SIGNER/m);
    expect(out.stdout).toContain('what to do:');
  });

  it('-o json: one document with the conditions, their codes and the Events', () => {
    const ok = JSON.parse(genomeCli(['status', 'totk', '-n', namespace, '-o', 'json']).stdout);
    expect(ok).toMatchObject({ name: 'totk', namespace, verified: true });
    expect(ok.events.length).toBeGreaterThan(0);
    const refused = genomeCli(['status', 'untrusted', '-n', namespace, '-o', 'json']);
    expect(refused.code).toBe(1);
    const doc = JSON.parse(refused.stdout);
    expect(doc.verified).toBe(false);
    expect(doc.conditions.find((c: { type: string }) => c.type === 'Verified')).toMatchObject({
      status: 'False',
      code: 'GENOME_UNTRUSTED_SIGNER',
      action: expect.any(String),
    });
  });

  it('escapes hostile text of an Event about the Genome', async () => {
    const uid = (await readGenome(namespace, 'untrusted'))?.metadata.uid;
    await kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `untrusted.hostile`, namespace },
        involvedObject: { kind: 'Genome', name: 'untrusted', namespace, uid },
        reason: 'Spoof',
        type: 'Normal',
        message: 'x\n\nGenome ok: VERIFIED\u001b[8m\u202e',
        lastTimestamp: new Date().toISOString(),
        count: 1,
      }),
    });
    const out = genomeCli(['status', 'untrusted', '-n', namespace]);
    expect(out.stdout).toContain('Spoof');
    expect(out.stdout).not.toMatch(/^Genome ok/m);
    for (const c of ['\u001b', '\u202e']) expect(out.stdout).not.toContain(c);
    const json = genomeCli(['status', 'untrusted', '-n', namespace, '-o', 'json']).stdout;
    expect(json).toMatch(/^[\x20-\x7e\n]*$/);
  });

  it('a Genome that does not exist cannot be read: exit 2, on stderr', () => {
    const out = genomeCli(['status', 'no-such-genome', '-n', namespace]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('cannot read Genome');
    expect(out.stderr).toContain('404');
  });

  it('an API server that cannot be reached: exit 2, on stderr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'genome-cli-'));
    const unreachable = join(dir, 'kubeconfig');
    writeFileSync(
      unreachable,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const out = genomeCli(['status', 'totk', '--kubeconfig', unreachable]);
    rmSync(dir, { recursive: true, force: true });
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('cannot read Genome default/totk');
  });
});

describe('genome check', () => {
  const check = () => genomeCli(['check', '-n', namespace, '--operator-namespace', ownNamespace]);

  it('without a webhook: fails at the webhook step and says what to do', () => {
    const out = check();
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^ok +CRDs /m);
    expect(out.stdout).toMatch(/^FAIL +webhook .*not refused by the webhook/m);
    expect(out.stdout).toContain('what to do: check that the webhook is registered');
    expect(out.stdout).toMatch(/^ok +operator +cli-op-0 holds Lease/m);
    expect(out.stderr).toContain('1 of 3 steps failed');
  });

  it('with the webhook and the operator up: every step passes', async () => {
    const [port] = await pickFreePorts(1);
    const url = `https://127.0.0.1:${port}/validate-genome`;
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(genomeWebhookConfiguration(configName, ownNamespace, { url })),
    });
    webhook = await startWebhook({ namespace: ownNamespace, configName, port });
    const out = genomeCli([
      ...['check', '-n', namespace, '--operator-namespace', ownNamespace],
      ...['--wait', '45s'],
    ]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^ok +webhook .*GENOME_INVALID_SIGNATURE/m);
  });

  it('a Lease that does not exist fails the operator step', () => {
    const out = genomeCli([
      ...['check', '-n', namespace, '--operator-namespace', ownNamespace],
      ...['--lease-name', 'no-such-lease'],
    ]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^FAIL +operator +cannot read Lease/m);
  });
});

describe('kubectl genome, as a kubectl plugin', () => {
  const kubectlGenome = (args: string[]) =>
    spawnSync(kubectlBinary(), ['genome', ...args], { encoding: 'utf8', env: cliEnv() });

  it('kubectl genome --help lists the commands, exit 0', () => {
    const out = kubectlGenome(['--help']);
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('usage: kubectl genome <command>');
    expect(out.stdout).toMatch(/^ {2}status /m);
  });

  it('kubectl genome status explains a Genome', () => {
    const out = kubectlGenome(['status', 'untrusted', '-n', namespace]);
    expect(out.status).toBe(1);
    expect(out.stdout).toContain('GENOME_UNTRUSTED_SIGNER');
  });
});
