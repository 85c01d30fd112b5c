import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genomeId } from '../core/canonical.ts';
import type { Genome } from '../core/genome.ts';
import { toKubectlYaml } from '../core/kubectl-yaml.ts';
import { verify } from '../core/verify.ts';
import { kubeClient, kubectl, uniqueNamespace, installGenomeCrd } from './support/cluster.ts';
import { declaring, genome, totkKeyPair, trusted, withFields } from './builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const KEY_FILE = join(
  ROOT,
  'test',
  'fixtures',
  'keys',
  'TEST-ONLY-totk-key-001.TEST-ONLY-private-key.b64',
);
const signer = totkKeyPair();
const work = mkdtempSync(join(tmpdir(), 'genome-manifest-yaml-'));
let namespace: string;

/** Strings that YAML 1.1 (go-yaml, in kubectl) reads as something else or cannot read. */
const TRICKY = [
  'x\u2028y',
  'p\u2029q',
  'a\u0085b',
  '\u2028',
  'multi\nline\r\nand\rcr',
  '\ttab\t',
  ' leading',
  'trailing ',
  '',
  'yes',
  'No',
  'on',
  'OFF',
  'y',
  'n',
  '~',
  'null',
  'true',
  '0x1F',
  '0777',
  '0o17',
  '1e3',
  '1:20',
  '.inf',
  '.NaN',
  '2001-12-14',
  '# not a comment',
  'a: b',
  '- x',
  '---',
  '...',
  '<<',
  '&a *a !t |> %',
  '"\'\\',
  '{a: [1]}',
  '\u0000\u0007\u001b[31m\u007f',
  '\u0080\u009b\u009f',
  '\u00a0\ufeff\u200b\u202e\u2066',
  '\ufffe\uffff',
  '😀\u{10ffff}\u{1f1fa}\u{1f1f8}',
  'é中文«»',
];

/** Generated strings: any code point, and mixes of YAML's line breaks and indicators. */
const generated = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom(
      ...'\u0085\u2028\u2029\n\r\t :#-?,[]{}&*!|>\'"%@`\\~yesnoON0x1F.e'.split(''),
      '\u{1f600}',
      '\u0000',
      '\u009b',
    ),
    maxLength: 10,
  }),
);

/** Runs one of the CLIs on files, as a user would. */
function cli(script: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(TSX, [join(ROOT, 'scripts', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  expect(result.status, `${script}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/** A genome whose strings are the given ones, declaring the TEST key. */
function genomeHolding(strings: string[], name: string): Genome {
  const nonBlank = strings.filter((s) => s.trim() !== '');
  return genome(
    declaring(signer),
    withFields({
      name: `${name} ${nonBlank[0] ?? ''}`,
      invariants: strings.map((s, i) => ({
        id: `INV-${i} ${s}`,
        severity: 'HIGH',
        testable_claim: s,
        enforcement_hook: `${s}${s}`,
      })),
      capabilities: [
        {
          cap_id: `CAP ${nonBlank.at(-1) ?? ''}`,
          risk_class: 'B',
          allow_actions: strings,
          deny_actions: [...strings].reverse(),
        },
      ],
      build_manifest: { files: nonBlank.map((s) => ({ path: s, sha256: `${s}.sha` })) },
    }),
  );
}

async function storedGenome(name: string): Promise<Genome> {
  const object = (await kubeClient().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'mathison.io',
    version: 'v1alpha1',
    namespace,
    plural: 'genomes',
    name,
  })) as { spec: { genome: Genome } };
  return object.spec.genome;
}

beforeAll(async () => {
  namespace = await uniqueNamespace('manifest-yaml');
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('genome-manifest YAML through kubectl create -f', () => {
  const batches: [string, string[]][] = [
    ['tricky', TRICKY],
    ['generated-a', fc.sample(generated, { numRuns: 60, seed: 1 })],
    ['generated-b', fc.sample(generated, { numRuns: 60, seed: 2 })],
  ];

  it.each(batches)(
    'stores the %s strings exactly as signed: the stored genome has the CLI genome id',
    async (name, strings) => {
      const unsigned = join(work, `${name}.unsigned.json`);
      const signed = join(work, `${name}.json`);
      const yamlPath = join(work, `${name}.yaml`);
      writeFileSync(unsigned, JSON.stringify(genomeHolding(strings, name), null, 2));
      const signOut = cli('genome-sign.ts', [unsigned, signed], {
        GENOME_SIGNING_PRIVATE_KEY: readFileSync(KEY_FILE, 'utf8').trim(),
      });
      const cliId = /genome id: ([0-9a-f]{64})/.exec(signOut)?.[1];
      expect(cliId).toBeDefined();
      writeFileSync(yamlPath, cli('genome-manifest.ts', [signed, '--name', name, '-n', namespace]));

      const created = await kubectl(['create', '-f', yamlPath], { allowFailure: true });
      expect(created.code, created.stderr).toBe(0);

      const stored = await storedGenome(name);
      expect(genomeId(stored)).toBe(cliId);
      expect(stored).toEqual(JSON.parse(readFileSync(signed, 'utf8')));
      expect(verify(stored, trusted(signer))).toMatchObject({ ok: true, genomeId: cliId });
    },
  );

  it("reads back 2,000 generated strings, as keys and values, identical through kubectl's YAML reader", async () => {
    const strings = fc.sample(generated, { numRuns: 2000, seed: 3 });
    const objects = Array.from({ length: 4 }, (_, part) => {
      const slice = strings.slice(part * 500, (part + 1) * 500);
      return {
        apiVersion: 'mathison.io/v1alpha1',
        kind: 'Genome',
        metadata: { name: `strings-${part}`, namespace },
        spec: { values: slice, keyed: Object.fromEntries(slice.map((s, i) => [s, i])) },
      };
    });
    for (const object of objects) {
      const out = await kubectl(
        ['create', '--dry-run=client', '--validate=false', '-o', 'json', '-f', '-'],
        { input: toKubectlYaml(object) },
      );
      expect((JSON.parse(out.stdout) as { spec: unknown }).spec).toEqual(object.spec);
    }
  });
});
