// The product image and the reference Mathison container on real pods: the boot check passes
// on the published genome and refuses a changed one (so the app never starts); the reference
// container boots on a good genome and reports its id on /health, and exits 1 on a tampered one.
// The ConfigMaps are made here in the operator's shape (see genome-fixtures.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureImageArchive, PRODUCT_IMAGE } from '../../images/image-definitions.ts';
import { kubectl, uniqueNamespace } from '../support/cluster.ts';
import {
  bootCheckContainer,
  configMapNameFor,
  healthOf,
  mathisonContainer,
  publishedConfigMap,
  tamperedTotk,
  totk,
} from './genome-fixtures.ts';
import { apply, hasCondition, readPod, waitForPod } from './support.ts';

let ns: string;
const MOUNT = { name: 'genome', mountPath: '/etc/mathison/genome', readOnly: true };
const ENV = [{ name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' }];

function pod(name: string, configMap: string, withInit: boolean, extra: object = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      volumes: [{ name: 'genome', configMap: { name: configMap } }],
      ...(withInit && {
        initContainers: [
          bootCheckContainer({
            env: [...ENV, { name: 'GENOME_EXPECTED_ID', value: totk.id }],
            volumeMounts: [MOUNT],
          }),
        ],
      }),
      containers: [mathisonContainer({ env: ENV, volumeMounts: [MOUNT] })],
      ...extra,
    },
  };
}

beforeAll(async () => {
  ns = await uniqueNamespace('mathison-images');
  await apply(
    ns,
    publishedConfigMap(configMapNameFor('totk', totk.id), totk.text, totk.id),
    publishedConfigMap('totk-tampered', tamperedTotk(), totk.id),
  );
});

describe('the boot check (product image) and the reference container', () => {
  it('pass on the published genome: the pod is Ready and /health reports its id', async () => {
    await apply(ns, pod('good', configMapNameFor('totk', totk.id), true));
    const ready = await waitForPod(ns, 'good', 'Ready', (p) => hasCondition(p, 'Ready'));
    expect(ready.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    const health = await healthOf(kubectl, ns, 'good');
    expect(health).toMatchObject({
      status: 'healthy',
      governance: {
        genome: {
          name: 'TOTK_ROOT',
          genome_id: `${totk.id.slice(0, 16)}...`,
          genome_id_full: totk.id,
          verified: true,
          initialized: true,
          verified_signers: ['TEST-ONLY-totk-key-001'],
        },
      },
    });
    const logs = await kubectl(['logs', '-n', ns, 'good', '-c', 'genome-verify']);
    expect(JSON.parse(logs.stdout)).toMatchObject({ msg: 'genome verified', genomeId: totk.id });
  });

  it('the boot check refuses a changed genome, so the app container never starts', async () => {
    await apply(ns, pod('changed', 'totk-tampered', true));
    const failed = await waitForPod(
      ns,
      'changed',
      'init container terminated',
      (p) => p.status?.initContainerStatuses?.[0]?.state?.terminated !== undefined,
    );
    expect(failed.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
    const app = failed.status?.containerStatuses?.[0];
    expect(app?.state?.running).toBeUndefined();
    expect(app?.state?.terminated).toBeUndefined();
    const logs = await kubectl(['logs', '-n', ns, 'changed', '-c', 'genome-verify']);
    expect(JSON.parse(logs.stdout)).toMatchObject({ code: 'GENOME_INVALID_SIGNATURE' });
  });

  it('the reference container alone exits 1 with the code on a tampered genome', async () => {
    await apply(ns, pod('tampered', 'totk-tampered', false));
    const done = await waitForPod(
      ns,
      'tampered',
      'container terminated',
      (p) => p.status?.containerStatuses?.[0]?.state?.terminated !== undefined,
    );
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
    expect(hasCondition(await readPod(ns, 'tampered'), 'Ready')).toBe(false);
    const logs = await kubectl(['logs', '-n', ns, 'tampered']);
    expect(logs.stdout + logs.stderr).toContain('GENOME_INVALID_SIGNATURE');
  });
});

describe('the product image', () => {
  it('holds Node, its libraries and the bundles only, runs as 65532, and names no shell', async () => {
    const archive = await ensureImageArchive(PRODUCT_IMAGE);
    const dir = mkdtempSync(join(tmpdir(), 'product-image-'));
    try {
      execFileSync('tar', ['-xf', archive, '-C', dir]);
      const blob = (digest: string) => join(dir, 'blobs', 'sha256', digest.replace('sha256:', ''));
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
      const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
      const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
      expect(config.config).toMatchObject({
        User: '65532:65532',
        Entrypoint: ['/usr/local/bin/node'],
        Cmd: ['/app/webhook.mjs'],
      });
      const files = manifest.layers
        .flatMap((l: { digest: string }) =>
          execFileSync('tar', ['-tf', blob(l.digest)], { encoding: 'utf8' }).split('\n'),
        )
        .filter((f: string) => f !== '' && !f.endsWith('/'))
        .sort();
      const bundles = [
        'app/genome-boot-check.mjs',
        'app/genome-selfcheck.mjs',
        'app/genome.mjs',
        'app/webhook.mjs',
      ].sort();
      if (existsSync(join(import.meta.dirname, '..', '..', 'cmd', 'operator.ts')))
        bundles.push('app/operator.mjs');
      expect(files).toEqual(
        [
          ...bundles,
          'etc/group',
          'etc/passwd',
          'lib/x86_64-linux-gnu/libc.so.6',
          'lib/x86_64-linux-gnu/libdl.so.2',
          'lib/x86_64-linux-gnu/libgcc_s.so.1',
          'lib/x86_64-linux-gnu/libm.so.6',
          'lib/x86_64-linux-gnu/libpthread.so.0',
          'lib/x86_64-linux-gnu/libstdc++.so.6',
          'lib64/ld-linux-x86-64.so.2',
          'usr/local/bin/node',
        ].sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
