// The webhook under hostile load: the real webhook process, registered with a real API server,
// while a client that reaches its port directly (as any pod can where no NetworkPolicy is
// enforced) posts bodies far over the limit (declared and chunked), bodies just under the
// limit that are expensive to parse, and bodies that stall half-way. Meanwhile legitimate
// Genome admissions go through the API server, and the webhook's RSS is sampled from its own
// /metrics (process_resident_memory_bytes). See docs/webhook.md, "Request bodies".
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genomeManifest } from '../core/manifest.ts';
import { genomeWebhookConfiguration } from '../core/webhook-config.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { environmentWithoutProxies } from '../cluster/processes.ts';
import { webhookReadyz } from '../cluster/webhook-process.ts';
import {
  eventually,
  installGenomeCrd,
  kubeconfigPath,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import { totkGenome, trustSecret } from './builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const TOTK_DIR = join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0');
const totk = totkGenome();
const totkKey = JSON.parse(
  readFileSync(join(TOTK_DIR, 'TEST-ONLY-totk-key-001.trust.json'), 'utf8'),
)[0] as { key_id: string; public_key: string };
const MiB = 1024 * 1024;

let ownNamespace: string;
let namespace: string;
let configName: string;
let webhook: { port: number; output: () => string; stop: () => Promise<void> };

/**
 * Starts the webhook as the product image runs it: bundled (images/bundle.sh) and run by plain
 * node, with the given node flags, so that its memory is the product's (tsx's loader alone
 * would add about 100 MiB).
 */
async function startBundledWebhook(port: number, nodeFlags: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'webhook-load-'));
  execFileSync('bash', [join(ROOT, 'images', 'bundle.sh'), dir, 'webhook=cmd/webhook.ts']);
  const child = spawn(process.execPath, [...nodeFlags, join(dir, 'webhook.mjs')], {
    env: {
      ...environmentWithoutProxies(),
      KUBECONFIG: kubeconfigPath(),
      GENOME_NAMESPACE: ownNamespace,
      WEBHOOK_LISTEN: `127.0.0.1:${port}`,
      WEBHOOK_CONFIGURATIONS: configName,
      WEBHOOK_MUTATING_CONFIGURATIONS: `unused-${configName}`,
      WEBHOOK_IP_ADDRESSES: '127.0.0.1',
      WEBHOOK_DNS_NAMES: 'localhost',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  await eventually(
    'the bundled webhook to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`webhook exited:\n${output}`);
      return (await webhookReadyz(port)) === 200 ? true : undefined;
    },
    60_000,
  );
  return { port, output: () => output, stop };
}

/**
 * An AdmissionReview of `size` bytes whose object is `objects` empty objects, then as many
 * two-letter strings as fit: what costs JSON.parse the most heap per byte, within the count
 * of objects and arrays the endpoint allows (more is refused before the parse).
 */
function hostileReview(size: number, objects: number): Buffer {
  const prefix =
    '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","kind":{"group":"mathison.io","version":"v1alpha1","kind":"Genome"},"operation":"CREATE","object":{"metadata":{"name":"h"},"spec":{"genome":[0';
  const suffix = ']}}}}';
  const empty = ',{}'.repeat(objects);
  const strings = Math.max(
    0,
    Math.floor((size - prefix.length - suffix.length - empty.length) / 5),
  );
  return Buffer.from(`${prefix}${empty}${',"ab"'.repeat(strings)}${suffix}`);
}

/** One hostile POST to the webhook's port: resolves its HTTP status (0: connection cut). */
function post(
  path: string,
  body: Buffer,
  options: { chunked?: boolean; stallAfter?: number } = {},
): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: webhook.port,
        path,
        method: 'POST',
        rejectUnauthorized: false,
        headers: {
          'content-type': 'application/json',
          ...(!options.chunked && { 'content-length': body.length }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    if (options.stallAfter !== undefined) {
      // Sends part of the body, then nothing: the webhook's request timeout ends it.
      req.write(body.subarray(0, options.stallAfter));
      return;
    }
    for (let at = 0; at < body.length; at += 256 * 1024)
      req.write(body.subarray(at, at + 256 * 1024));
    req.end();
  });
}

/** The webhook's resident memory, from its own /metrics. */
function webhookRss(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: webhook.port,
        path: '/metrics',
        rejectUnauthorized: false,
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          const line = text
            .split('\n')
            .find((l) => l.startsWith('genome_webhook_process_resident_memory_bytes '));
          if (line === undefined) reject(new Error('no process_resident_memory_bytes'));
          else resolve(Number(line.split(' ')[1]));
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('/metrics timed out')));
    req.end();
  });
}

/** Repeats `send` until `until` passes, collecting the statuses. */
async function loop(until: number, send: () => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  while (Date.now() < until) statuses.push(await send());
  return statuses;
}

beforeAll(async () => {
  ownNamespace = await uniqueNamespace('genome-system');
  namespace = await uniqueNamespace('load');
  configName = `genome-webhook-${namespace}`;
  const port = (await pickFreePorts(1))[0]!;
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(
      trustSecret(ownNamespace, 'trusted-keys', { [totkKey.key_id]: totkKey.public_key }, [
        totkKey.key_id,
      ]),
    ),
  });
  const config = genomeWebhookConfiguration(configName, ownNamespace, {
    url: `https://127.0.0.1:${port}/validate-genome`,
  }) as { webhooks: { namespaceSelector: unknown }[] };
  config.webhooks[0]!.namespaceSelector = {
    matchLabels: { 'kubernetes.io/metadata.name': namespace },
  };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(config) });
  // The node flags recommended for the chart's webhook (docs/webhook.md, "Request bodies").
  webhook = await startBundledWebhook(port, [
    '--max-semi-space-size=4',
    '--max-old-space-size=112',
  ]);
  await eventually('the API server to call the webhook over TLS', async () => {
    const out = await admitTotk();
    return out.code === 0 ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
});

/** A legitimate admission through the API server: a dry-run apply of the TOTK Genome. */
function admitTotk() {
  return kubectl(['apply', '--dry-run=server', '-f', '-'], {
    input: JSON.stringify(genomeManifest(totk, 'totk', namespace)),
    allowFailure: true,
  });
}

describe('the webhook under hostile concurrent posts', () => {
  it('answers legitimate admissions and keeps its memory bounded', async () => {
    const baseline = await webhookRss();
    const until = Date.now() + 12_000;
    const over = hostileReview(15 * MiB, 0); // under the 16 MiB the webhook took before
    const dense = hostileReview(3 * MiB, 1_000_000); // within the bytes, not the objects
    const atLimit = hostileReview(3 * MiB, 149_000); // just under /validate-genome's limits
    // Per kind, the number of clients posting in a loop: over the byte limit (declared, and
    // chunked), at the limits, stalled half-way, and dense (over the count of objects).
    const mix = [4, 2, 3, 4, 2];
    const hostile = [
      ...Array.from({ length: mix[0]! }, () => loop(until, () => post('/validate-genome', over))),
      ...Array.from({ length: mix[1]! }, () =>
        loop(until, () => post('/mutate-pod', over, { chunked: true })),
      ),
      ...Array.from({ length: mix[2]! }, () =>
        loop(until, () => post('/validate-genome', atLimit)),
      ),
      ...Array.from({ length: mix[3]! }, () =>
        loop(until, () => post('/validate-genome', atLimit, { stallAfter: 2 * MiB })),
      ),
      ...Array.from({ length: mix[4]! }, () => loop(until, () => post('/mutate-pod', dense))),
    ];
    const samples: number[] = [];
    const sampling = loop(until, async () => {
      samples.push(await webhookRss().catch(() => 0));
      await new Promise((r) => setTimeout(r, 200));
      return 0;
    });
    const legit = loop(until, async () => (await admitTotk()).code);
    const [legitCodes, hostileStatuses] = await Promise.all([legit, Promise.all(hostile)]);
    await sampling;
    const peak = Math.max(...samples);
    const statuses = hostileStatuses.flat();
    const counts = (s: number) => statuses.filter((x) => x === s).length;
    console.log(
      `webhook RSS: baseline ${(baseline / MiB).toFixed(0)} MiB, peak under load ${(peak / MiB).toFixed(0)} MiB ` +
        `(${samples.length} samples); legitimate admissions: ${legitCodes.length}, failed ${legitCodes.filter((c) => c !== 0).length}; ` +
        `hostile answers: 413 x${counts(413)}, 400 x${counts(400)}, 503 x${counts(503)}, 200 x${counts(200)}, cut x${counts(0)}`,
    );
    expect(legitCodes.length).toBeGreaterThan(5);
    expect(legitCodes.filter((c) => c !== 0)).toEqual([]);
    expect(counts(413)).toBeGreaterThan(10);
    // The chart's limit is 256 MiB; an idle webhook takes about a third of it.
    expect(peak).toBeLessThan(256 * MiB);
    expect(peak - baseline).toBeLessThan(150 * MiB);
    expect((await admitTotk()).code).toBe(0);
  }, 60_000);
});
