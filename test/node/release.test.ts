// The release (make release) installed the way a platform engineer installs it: the image
// archives imported into the node's containerd (as `ctr images import` does on any containerd
// node), the packaged chart (.tgz, not the chart folder) installed with only the values a user
// passes (pull policy Never for imported images; nothing else: production, and no key trusted
// until the test trusts one of its own, as the README does), every pod naming the product image by the
// digest the release pinned; `helm test` passes; then uninstalled and the images removed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCT_VERSION } from '../../core/version.ts';
import { manifestDigestOf, writeRelease } from '../../scripts/release.ts';
import { kubectlBinary } from '../../cluster/binaries.ts';
import { environmentWithoutProxies } from '../../cluster/processes.ts';
import { kubeconfigPath, kubectl, uniqueNamespace } from '../support/cluster.ts';
import { helm } from '../support/helm.ts';
import { ctr } from './support.ts';
import { applyHarnessDefaultPolicy, yieldDefaultPolicyToChart } from './default-policy.ts';

const release = `rel-${randomBytes(2).toString('hex')}`;
const fullname = `${release}-genome-operator`;
const out = mkdtempSync(join(tmpdir(), 'genome-release-test-'));
let folder: string;
let ns: string;
let apps: string;
const imported: string[] = [];

/** The archive of the folder whose name starts with `prefix`. */
function archive(prefix: string): string {
  const name = readdirSync(folder).find((f) => f.startsWith(prefix) && f.endsWith('.oci.tar'));
  if (name === undefined) throw new Error(`no ${prefix} archive in ${folder}`);
  return join(folder, name);
}

beforeAll(async () => {
  ns = await uniqueNamespace('genome-release');
  apps = await uniqueNamespace('release-apps');
  await applyHarnessDefaultPolicy();
  await yieldDefaultPolicyToChart();
}, 300_000);

afterAll(async () => {
  await helm(['uninstall', release, '--namespace', ns, '--wait', '--timeout', '2m']);
  await applyHarnessDefaultPolicy();
  await kubectl(['delete', 'namespace', ns, apps, '--wait=false'], { allowFailure: true });
  if (imported.length > 0) ctr(['images', 'rm', ...imported]);
  rmSync(out, { recursive: true, force: true });
});

describe('the release installs on the local node', () => {
  it(
    'writes the folder: chart, image archives, SBOMs, SHA256SUMS that sha256sum -c accepts',
    { timeout: 600_000 },
    async () => {
      folder = await writeRelease(out);
      expect(folder).toBe(join(out, PRODUCT_VERSION));
      expect(readdirSync(folder).sort()).toEqual(
        [
          'SHA256SUMS',
          'genome',
          'genome-operator-crds.yaml',
          'example-genome-unsigned.json',
          `genome-operator-${PRODUCT_VERSION}-linux-amd64.cdx.json`,
          `genome-operator-${PRODUCT_VERSION}-linux-amd64.oci.tar`,
          `genome-operator-${PRODUCT_VERSION}.tgz`,
          `mathison-reference-${PRODUCT_VERSION}-linux-amd64.cdx.json`,
          `mathison-reference-${PRODUCT_VERSION}-linux-amd64.oci.tar`,
        ].sort(),
      );
      const check = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], {
        cwd: folder,
        encoding: 'utf8',
      });
      expect(check.status, check.stdout + check.stderr).toBe(0);
    },
  );

  it('imports the image archives into containerd, by tag and by digest', () => {
    for (const prefix of ['genome-operator-', 'mathison-reference-']) {
      const path = archive(prefix);
      const repository = `genome.local/${prefix.slice(0, -1)}`;
      const tag = `${repository}:${PRODUCT_VERSION}`;
      const byDigest = `${repository}@${manifestDigestOf(path)}`;
      // The archive names the tag; the pods ask for repository@<manifest digest>, a second
      // name (ctr import --digests would name the index's digest, which no pod asks for).
      ctr(['images', 'import', '--platform', 'linux/amd64', path]);
      imported.push(tag);
      ctr(['images', 'tag', '--force', tag, byDigest]);
      imported.push(byDigest);
    }
    const names = ctr(['images', 'ls', '-q']).split('\n');
    for (const name of imported) expect(names).toContain(name);
  });

  it(
    'helm install of the packaged .tgz: every pod runs the product image by the pinned digest',
    { timeout: 420_000 },
    async () => {
      const chart = join(folder, `genome-operator-${PRODUCT_VERSION}.tgz`);
      const install = await helm([
        ...['install', release, chart, '--namespace', ns],
        ...['--set', 'image.pullPolicy=Never', '--set', 'webhook.bootCheckPullPolicy=Never'],
        // The chart's defaults otherwise: production, and no key trusted (the safe default).
        ...['--set', `selfCheck.namespace=${apps}`],
        ...['--wait', '--timeout', '5m'],
      ]);
      if (install.code !== 0) {
        const pods = await kubectl(['get', 'pods', '-n', ns, '-o', 'wide'], { allowFailure: true });
        const events = await kubectl(['get', 'events', '-n', ns], { allowFailure: true });
        throw new Error(`helm install failed: ${install.stderr}\n${pods.stdout}\n${events.stdout}`);
      }
      const digest = manifestDigestOf(archive('genome-operator-'));
      const images = await kubectl([
        ...['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${release}`, '-o'],
        'jsonpath={range .items[*]}{.spec.containers[0].image} {.status.containerStatuses[0].ready}{"\\n"}{end}',
      ]);
      const lines = images.stdout.trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(4);
      for (const line of lines) expect(line).toBe(`genome.local/genome-operator@${digest} true`);
      const deployments = await kubectl([
        ...['get', 'deployment', fullname, `${fullname}-webhook`, '-n', ns],
        ...['-o', 'jsonpath={.items[*].status.readyReplicas}'],
      ]);
      expect(deployments.stdout).toBe('2 2');
    },
  );

  it(
    'passes helm test with no key trusted yet (every Genome refused TRUST_KEYS_MISSING)',
    { timeout: 180_000 },
    async () => {
      const test = await helm(['test', release, '--namespace', ns, '--logs', '--timeout', '2m']);
      expect(test.code, test.stderr + test.stdout).toBe(0);
      expect(test.stdout).toMatch(/Phase:\s+Succeeded/);
      expect(test.stdout).toContain('the webhook refused a tampered Genome');
      expect(test.stdout).toContain('TRUST_KEYS_MISSING');
      // The chart's default policy is Ready (NoTrustedKeys): what helm install --wait waited for.
      const reason = await kubectl([
        ...['get', 'gtp', 'default', '-o'],
        'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}',
      ]);
      expect(reason.stdout).toBe('True NoTrustedKeys');
    },
  );

  it('ships the genome CLI as one executable: it checks the install, also as kubectl genome', () => {
    const bin = mkdtempSync(join(tmpdir(), 'genome-release-bin-'));
    try {
      symlinkSync(join(folder, 'genome'), join(bin, 'kubectl-genome'));
      // The Node 24 of node_modules (a user's own Node 24 on PATH), and the plugin on PATH.
      const path = `${dirname(process.execPath)}:${bin}:${process.env.PATH}`;
      const env = { ...environmentWithoutProxies(), PATH: path, KUBECONFIG: kubeconfigPath() };
      // No --operator-namespace or --lease-name: found from the webhook configuration's Service.
      const args = ['check', '--namespace', apps];
      const direct = spawnSync(join(folder, 'genome'), args, { encoding: 'utf8', env });
      expect(direct.status, direct.stdout + direct.stderr).toBe(0);
      const plugin = spawnSync(kubectlBinary(), ['genome', '--help'], { encoding: 'utf8', env });
      expect(plugin.status, plugin.stderr).toBe(0);
      expect(plugin.stdout).toContain('check');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it(
    "the README's steps: a key of one's own trusted, the example genome signed with it, Verified",
    { timeout: 120_000 },
    async () => {
      const work = mkdtempSync(join(tmpdir(), 'genome-release-user-'));
      const env = {
        ...environmentWithoutProxies(),
        PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
        KUBECONFIG: kubeconfigPath(),
      };
      const genome = (args: string[], extra: Record<string, string> = {}) =>
        spawnSync(join(folder, 'genome'), args, {
          cwd: work,
          encoding: 'utf8',
          env: { ...env, ...extra },
        });
      try {
        const keygen = genome(['keygen', 'my-key-001']);
        expect(keygen.status, keygen.stderr).toBe(0);
        const trust = JSON.parse(keygen.stdout) as { key_id: string; public_key: string };
        const secret = `${release}-my-keys`;
        await kubectl([
          'create',
          'secret',
          'generic',
          secret,
          '-n',
          ns,
          `--from-literal=my-key-001=${trust.public_key}`,
        ]);
        await kubectl([
          'label',
          'secret',
          secret,
          '-n',
          ns,
          'genome.mathison.io/trusted-keys=true',
        ]);
        // The example with the new key as its only signer (the README's jq line, in TypeScript).
        const example = JSON.parse(
          readFileSync(join(folder, 'example-genome-unsigned.json'), 'utf8'),
        );
        example.name = 'MY_GENOME';
        example.authority = { signers: [trust], threshold: 1 };
        writeFileSync(join(work, 'my-genome-unsigned.json'), JSON.stringify(example, null, 2));
        const sign = genome(['sign', 'my-genome-unsigned.json', 'my-genome.json'], {
          GENOME_SIGNING_PRIVATE_KEY: keygen.stderr.trim(),
        });
        expect(sign.status, sign.stderr).toBe(0);
        const manifest = genome(['manifest', 'my-genome.json', '--name', 'my-genome', '-n', apps]);
        expect(manifest.status, manifest.stderr).toBe(0);
        await kubectl(['apply', '-f', '-'], { input: manifest.stdout });
        await expect
          .poll(() => genome(['status', 'my-genome', '-n', apps]).status, {
            timeout: 60_000,
            interval: 1_000,
          })
          .toBe(0);
        expect(genome(['status', 'my-genome', '-n', apps]).stdout).toContain('VERIFIED');
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  );

  it('ships the CRDs as one file, the same as the chart installed', async () => {
    const text = readFileSync(join(folder, 'genome-operator-crds.yaml'), 'utf8');
    const names = [...text.matchAll(/^ {2}name: (\S+)$/gm)].map((m) => m[1]);
    expect(names).toEqual(['genomes.mathison.io', 'genometrustpolicies.mathison.io']);
    const dry = await kubectl([
      'apply',
      '--server-side',
      '--dry-run=server',
      '-f',
      join(folder, 'genome-operator-crds.yaml'),
    ]);
    expect(dry.stdout).toContain('genomes.mathison.io');
  });
});
