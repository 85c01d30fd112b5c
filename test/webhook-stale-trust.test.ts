/**
 * The webhook when its trusted-key watch goes silent (a half-open network: no error, no close):
 * within its bound it refuses Genome writes with TRUST_KEYS_STALE instead of answering from the
 * keys it last saw, and admits again once the network is back. The webhook reaches the API
 * server through a loopback relay that the test silences; the API server reaches the webhook
 * directly.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickFreePorts } from '../cluster/ports.ts';
import { spawnWebhook, webhookReadyz, type WebhookProcess } from '../cluster/webhook-process.ts';
import { genomeWebhookConfiguration } from '../core/webhook-config.ts';
import { genomeManifest } from '../core/manifest.ts';
import { genome, keyPair, signedBy, trustSecret } from './builders/index.ts';
import {
  eventually,
  installGenomeCrd,
  kubeconfigPath,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const ROOT = join(import.meta.dirname, '..');
const alice = keyPair('alice-key');
const configName = `genome-stale-${process.pid}`;
let ownNamespace: string;
let namespace: string;
let proxy: TcpProxy;
let webhook: WebhookProcess;
let port: number;

/** A dry-run create of a Genome signed by a trusted key: its exit code and stderr. */
async function tryCreate(name: string) {
  const manifest = genomeManifest(genome(signedBy(alice)), name, namespace);
  return kubectl(['create', '--dry-run=server', '-f', '-'], {
    input: JSON.stringify(manifest),
    allowFailure: true,
  });
}

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  namespace = await uniqueNamespace('stale');
  const secret = trustSecret(ownNamespace, 'trusted-keys', { [alice.keyId]: alice.publicKey });
  await kubectl(['create', '-f', '-'], { input: JSON.stringify(secret) });
  proxy = await startTcpProxy(kubeconfigPath());
  const relayed = join(mkdtempSync(join(tmpdir(), 'stale-trust-')), 'kubeconfig');
  writeFileSync(relayed, proxy.kubeConfig.exportConfig());
  [port] = (await pickFreePorts(1)) as [number];
  const url = `https://127.0.0.1:${port}/validate-genome`;
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(genomeWebhookConfiguration(configName, ownNamespace, { url })),
  });
  webhook = spawnWebhook({
    kubeconfigPath: relayed,
    namespace: ownNamespace,
    configName,
    listen: `127.0.0.1:${port}`,
  });
  await eventually(
    'the API server to admit through the webhook',
    async () => ((await tryCreate('probe')).code === 0 ? true : undefined),
    60_000,
  );
  expect(readFileSync(relayed, 'utf8')).toContain('127.0.0.1');
}, 120_000);

afterAll(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
  await proxy?.close();
  await kubectl(['delete', 'namespace', namespace, ownNamespace, '--wait=false'], {
    allowFailure: true,
  });
});

describe('the webhook when its key watch goes silent', () => {
  it('refuses Genome writes with TRUST_KEYS_STALE within its bound, and admits again when the network is back', async () => {
    proxy.silence();
    const silenced = Date.now();
    const refused = await eventually(
      'a refusal for stale keys',
      async () => {
        const out = await tryCreate('while-silent');
        return out.code !== 0 && out.stderr.includes('TRUST_KEYS_STALE') ? out : undefined;
      },
      90_000,
    );
    const bound = Date.now() - silenced;
    expect(refused.stderr).toMatch(
      /trusted keys, the trust policies or the namespaces. labels are not current/,
    );
    // The documented bound: a watch lasts 10 s, counts as down 15 s after it began, and the
    // keys as stale 10 s after that; the time of a dry run on a loaded machine on top.
    expect(bound).toBeLessThan(45_000);
    expect(await webhookReadyz(port)).toBe(503);
    await proxy.restore();
    await eventually(
      'admissions again',
      async () => ((await tryCreate('after')).code === 0 ? true : undefined),
      90_000,
    );
  }, 240_000);
});
