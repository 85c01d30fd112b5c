/**
 * sync-chart [--check]: copies into charts/genome-operator the files whose one source is
 * elsewhere in the repository: the CRDs (crds/, generated from core/), the TOTK sample genome
 * and its TEST trust key (genomes/). With --check it writes nothing and exits 1 when a copy
 * has drifted (make verify).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const chart = join(root, 'charts', 'genome-operator');
const COPIES: [source: string, target: string][] = [
  // The CRDs live in the subchart charts/crds (installed when crds.enabled), in its crds/.
  ['crds/genomes.mathison.io.yaml', 'charts/crds/crds/genomes.mathison.io.yaml'],
  [
    'crds/genometrustpolicies.mathison.io.yaml',
    'charts/crds/crds/genometrustpolicies.mathison.io.yaml',
  ],
  ['genomes/TOTK_ROOT_v1.0.0/genome.json', 'files/totk-genome.json'],
  [
    'genomes/TOTK_ROOT_v1.0.0/TEST-ONLY-totk-key-001.trust.json',
    'files/TEST-ONLY-totk-key-001.trust.json',
  ],
];

const check = process.argv.includes('--check');
let drifted = 0;
for (const [source, target] of COPIES) {
  const text = readFileSync(join(root, source), 'utf8');
  const path = join(chart, target);
  if (check) {
    let copy = '';
    try {
      copy = readFileSync(path, 'utf8');
    } catch {
      // missing counts as drift
    }
    if (copy !== text) {
      console.error(`charts/genome-operator/${target} differs from ${source}: run make crds`);
      drifted++;
    }
  } else {
    writeFileSync(path, text);
    console.log(`copied ${source} to charts/genome-operator/${target}`);
  }
}
if (check && drifted > 0) process.exit(1);
if (check) console.log('charts/genome-operator copies are up to date');
