import { afterAll, beforeAll, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { installCrdsAndDefaultPolicy } from '../cluster/crds.ts';
import { genomeManifest } from '../core/manifest.ts';
import { genome, keyPair, named, signedBy, trustSecret } from './builders/index.ts';
import { eventually } from './support/cluster.ts';
import {
  kubectlAs,
  operatorCredentials,
  removeOperatorCredentials,
  startOperator,
  type RunningOperator,
} from './support/operator.ts';

// A control plane of its own: this test restarts its API server.
const alice = keyPair('alice-key');
let cp: ControlPlane;
let operator: RunningOperator | undefined;
const NS = 'genome-system';
const APPS = 'apps';

const kubectl = (args: string[], input?: string) => kubectlAs(cp.kubeconfigPath, args, input);
const verifiedOf = (name: string) =>
  kubectl([
    'get',
    'gn',
    name,
    '-n',
    APPS,
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Verified")].status}',
  ]);
const setTrust = (keys: Record<string, string>) =>
  kubectl(['replace', '-f', '-'], JSON.stringify(trustSecret(NS, 'trusted-keys', keys)));
const applyGenome = (name: string) =>
  kubectl(
    ['apply', '-f', '-'],
    JSON.stringify(genomeManifest(genome(signedBy(alice), named(name)), name, APPS)),
  );
const until = (what: string, name: string, status: string) =>
  eventually(what, async () => (verifiedOf(name) === status ? true : undefined), 60_000);

beforeAll(async () => {
  cp = await startControlPlane({ log: () => {} });
  // Both CRDs and the chart's default policy: without them the operator is never ready, or
  // refuses every Genome (POLICY_NO_MATCH).
  await installCrdsAndDefaultPolicy(kubectl, { allowTestKeys: true });
  kubectl(['create', 'namespace', NS]);
  kubectl(['create', 'namespace', APPS]);
  kubectl(
    ['create', '-f', '-'],
    JSON.stringify(trustSecret(NS, 'trusted-keys', { [alice.keyId]: alice.publicKey })),
  );
  const kubeconfig = await operatorCredentials(NS, cp.kubeconfigPath);
  operator = await startOperator({ namespace: NS, kubeconfig, identity: 'restart-0' });
}, 180_000);

afterAll(async () => {
  await operator?.stop();
  if (process.env.DEBUG_OPERATOR) process.stderr.write(operator?.output() ?? '');
  await removeOperatorCredentials(NS, cp.kubeconfigPath).catch(() => undefined);
  await cp?.stop();
});

it('the API server restarts under the operator: its watches recover and nothing is lost', async () => {
  applyGenome('before');
  await until('before to be verified', 'before', 'True');
  await cp.restartApiServer();
  // A Genome created after the restart, and a key removed: both need the watches to be back.
  applyGenome('after');
  await until('after to be verified', 'after', 'True');
  setTrust({});
  await until('before to be revoked', 'before', 'False');
  await until('after to be revoked', 'after', 'False');
  setTrust({ [alice.keyId]: alice.publicKey });
  await until('before to be verified again', 'before', 'True');
  expect(operator?.exitCode()).toBeNull();
}, 180_000);
