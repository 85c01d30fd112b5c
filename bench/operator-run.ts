/**
 * How the operator benchmarks run the operator and read its memory: as the image runs it (one
 * esbuild bundle under plain node, the chart's node flags and malloc settings), its RSS from
 * /proc.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');

function chartNodeFlags(): string[] {
  const values = parse(
    readFileSync(join(ROOT, 'charts', 'genome-operator', 'values.yaml'), 'utf8'),
  ) as { operator: { nodeFlags: string[] } };
  return values.operator.nodeFlags;
}

/**
 * The operator's node flags: the chart's (values.yaml operator.nodeFlags). BENCH_NODE_ARGS
 * replaces them (e.g. "" for node's defaults).
 */
export const NODE_ARGS =
  process.env.BENCH_NODE_ARGS === undefined
    ? chartNodeFlags()
    : process.env.BENCH_NODE_ARGS.split(' ').filter((a) => a !== '');

/** The malloc settings the chart gives the operator (templates/operator.yaml). */
export const OPERATOR_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/** OPERATOR_MALLOC_ENV as the benchmarks print it. */
export const OPERATOR_MALLOC_TEXT = Object.entries(OPERATOR_MALLOC_ENV)
  .map(([k, v]) => `${k}=${v}`)
  .join(' ');

/** The operator as the image runs it: one esbuild bundle under plain node (no tsx loader). */
export function bundleOperator(dir: string): string {
  execFileSync('bash', [join(ROOT, 'images', 'bundle.sh'), dir, 'operator=cmd/operator.ts'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  return join(dir, 'operator.mjs');
}

/** The resident memory of process `pid`, in MB. */
export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1]) / 1024;
}

/** The highest resident memory of process `pid` so far (VmHWM), in MB. */
export function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(line?.split(/\s+/)[1]) / 1024;
}

/** RSS after `ms` with nothing to do, sampled each second: the last sample. */
export async function settledRss(pid: number, ms: number): Promise<number> {
  const samples: number[] = [];
  for (let waited = 0; waited < ms; waited += 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(rssMb(pid));
  }
  return samples.at(-1) ?? rssMb(pid);
}
