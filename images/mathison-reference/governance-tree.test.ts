// The committed production sample genome (genomes/MATHISON_REFERENCE_v1.0.0) pins the governance
// tree the reference image holds: the hashes it signs are those of the tree prepare.sh writes
// today, and the image's root passes upstream's production check against it. When this fails
// after a change to examples/mathison-reference, refresh the sample (its README says how).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyBuildManifestAt } from '../../cli/build-manifest-fs.ts';
import type { Genome } from '../../core/genome.ts';
import { checkMountedGenome } from '../../core/mounted-genome.ts';
import { GOVERNANCE_PATHS, imageManifest, writeGovernanceTree } from './governance-tree.ts';

const REPO = join(import.meta.dirname, '..', '..');
const SAMPLE = join(REPO, 'genomes', 'MATHISON_REFERENCE_v1.0.0');
const TRUST = join(REPO, 'genomes', 'TOTK_ROOT_v1.0.0', 'TEST-ONLY-totk-key-001.trust.json');
const root = mkdtempSync(join(tmpdir(), 'mathison-governance-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const read = (name: string) => readFileSync(join(SAMPLE, name), 'utf8');

describe('the reference image governance tree and its production sample genome', () => {
  const written = writeGovernanceTree(root);

  it('holds the built file of every module a genome lists', () => {
    expect(written).toEqual(
      GOVERNANCE_PATHS.map((p) => p.replace('/src/', '/dist/').replace(/\.ts$/, '.js')),
    );
  });

  it('the committed sample pins exactly the tree, signed by the TEST key', () => {
    const signed = JSON.parse(read('genome.json')) as Genome;
    const unsigned = JSON.parse(read('genome-unsigned.json')) as Genome;
    expect(unsigned.build_manifest.files).toEqual(imageManifest(root));
    expect(signed).toMatchObject(unsigned);
    const verdict = checkMountedGenome({
      genomeText: read('genome.json'),
      trustText: readFileSync(TRUST, 'utf8'),
      source: 'genomes/MATHISON_REFERENCE_v1.0.0',
    });
    expect(verdict).toMatchObject({ ok: true, signers: ['TEST-ONLY-totk-key-001'] });
  });

  it('the image root passes the production check of the sample (and fails on a changed file)', () => {
    const { build_manifest } = JSON.parse(read('genome.json')) as Genome;
    expect(verifyBuildManifestAt(build_manifest.files, root, { production: true })).toEqual({
      ok: true,
      checked: GOVERNANCE_PATHS.length,
      skipped: 0,
    });
    writeFileSync(join(root, written.at(-1)!), '// changed\n');
    expect(verifyBuildManifestAt(build_manifest.files, root, { production: true })).toMatchObject({
      ok: false,
      refusal: { code: 'GENOME_MANIFEST_MISMATCH' },
      path: written.at(-1),
    });
  });

  it('prepare.sh writes the tree into the image app directory (/app)', () => {
    const prepare = readFileSync(join(import.meta.dirname, 'prepare.sh'), 'utf8');
    expect(prepare).toContain('images/mathison-reference/governance-tree.ts "$1/app"');
    const dockerfile = readFileSync(join(import.meta.dirname, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^COPY app\/ \/app\/$/m);
    expect(dockerfile).toMatch(/^ENV .*MATHISON_REPO_ROOT=\/app\b/m);
  });
});
