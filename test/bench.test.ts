/**
 * Keeps `make bench` working: runs both benchmarks end to end with tiny round lengths and
 * request counts, and checks that they print every figure the issues ask for. No figure's
 * value is asserted (speed is measured by `make bench`, never in a timed test).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

async function bench(
  file: string,
  env: Record<string, string>,
  timeout = 110_000,
): Promise<string> {
  const { stdout } = await promisify(execFile)(TSX, [join(ROOT, 'bench', file)], {
    env: { ...process.env, ...env },
    timeout,
  });
  return stdout;
}

const NUMBER = String.raw`[\d,]+`;

describe('make bench, run small', () => {
  it('verify.bench prints verdicts/s, raw Ed25519/s and their ratio for 4 KB and 1 MB', async () => {
    const out = await bench('verify.bench.ts', { BENCH_ROUNDS: '1', BENCH_MS: '20' });
    for (const size of ['4 KB', '1 MB']) {
      const section = out.slice(out.indexOf(`${size} genome`));
      expect(section).toMatch(new RegExp(String.raw`verify\(\) verdicts/s\s+${NUMBER}\n`));
      expect(section).toMatch(
        new RegExp(
          String.raw`raw Ed25519 \(Node\) verifies/s\s+${NUMBER}\s+ratio verdict/raw = \d\.\d\d`,
        ),
      );
    }
  });

  it('webhook.bench prints no-op, ceiling, webhook and their ratios at 1, 16 and 128, for Genomes and pods', async () => {
    const out = await bench('webhook.bench.ts', { BENCH_SCALE: '0.02', BENCH_MS: '20' });
    const ms = String.raw`\d+\.\d\d \( *\d+\.\d\d\)`; // the webhook's, then the no-op's
    for (const size of ['4 KB', '1 MB']) {
      const section = out.slice(out.indexOf(`${size} genome`));
      expect(section).toMatch(new RegExp(String.raw`raw Ed25519 verifies/s .*: +${NUMBER}\n`));
      for (const concurrency of [1, 16, 128]) {
        // no-op/s, ceiling/s, webhook/s, vs ceiling, vs raw, raw/s, p50 and p99 of both, CPU
        // µs per request of the webhook and of the ceiling, their ratio, CPU of server/client
        // A ratio is n/a when the CPU time of a short run was below the clock's resolution.
        const cpu = String.raw`\d+ \( *\d+\) +(?:\d+\.\d\d|n/a)`;
        const row = String.raw`\n +${concurrency} +${NUMBER} +${NUMBER} +${NUMBER} +\d+\.\d\d +\d+\.\d\d +${NUMBER} +${ms} +${ms} +${cpu} +\d+% / +\d+%`;
        expect(section).toMatch(new RegExp(row));
        // and under it, the measured ceiling: its rate, the webhook's ratio, p50, p99, CPU
        const measured = String.raw`\n +measured ceiling \(no-op \+ raw verification, one server\): ${NUMBER}/s, webhook \d+\.\d\d of it; p50 \d+\.\d\d ms, p99 \d+\.\d\d ms; CPU \d+ µs/req, webhook (?:\d+\.\d\d|n/a) of it in CPU\n`;
        expect(section.slice(section.search(new RegExp(row)))).toMatch(new RegExp(measured));
      }
      expect(section).toMatch(
        /webhook p50 \/ \(no-op p50 \+ one raw verification\) = \d+\.\d\d; \/ measured ceiling p50 = \d+\.\d\d/,
      );
    }
    const large = out.slice(out.indexOf('1 MB genome'), out.indexOf('pod admission'));
    expect(large).toMatch(new RegExp(String.raw`JSON\.parse of the body/s .*: +${NUMBER}\n`));
    expect(large).toMatch(new RegExp(String.raw`canonical serialisations/s .*: +${NUMBER}\n`));
    // Pod admission through /mutate-pod (every answer checked to carry a patch by the bench).
    const pods = out.slice(out.indexOf('pod admission (/mutate-pod'));
    expect(pods.length).toBeLessThan(out.length);
    for (const concurrency of [1, 16, 128]) {
      // no-op/s, pods/s, vs no-op, vs raw, raw/s, p50 and p99 of both, CPU µs/req of both
      const row = String.raw`\n +${concurrency} +${NUMBER} +${NUMBER} +\d+\.\d\d +\d+\.\d\d +${NUMBER} +${ms} +${ms} +\d+ \( *\d+\) +\d+% / +\d+%`;
      expect(pods).toMatch(new RegExp(row));
    }
    expect(pods).toMatch(
      new RegExp(String.raw`raw Ed25519 verifies/s \(4 KB genome\).*: +${NUMBER}\n`),
    );
  }, 120_000); // three servers, a shared 2-core machine

  it('operator.bench prints latency, cold start beside the API server, revocation and RSS', async () => {
    // Its own control plane, three Genomes of 50 KB and two single ones.
    const out = await bench(
      'operator.bench.ts',
      { BENCH_GENOMES: '3', BENCH_SINGLE: '2', BENCH_SETTLE_MS: '1000' },
      170_000,
    );
    expect(out).toMatch(
      /API server alone, 3 ConfigMaps \+ 3 status applies: +\d+\.\d\d s \(\d+ writes\/s; the status applies alone \d+\.\d\d s\)/,
    );
    expect(out).toMatch(
      /node --max-semi-space-size=\d+ --max-old-space-size=\d+, MALLOC_ARENA_MAX=2/,
    );
    expect(out).toMatch(/cold start → 3 Ready: +\d+\.\d\d s \(\d+\.\d\d× the API server alone/);
    expect(out).toMatch(
      /operator RSS with 3 cached, at once: +\d+ MB; V8 heap \d+ MB used of \d+ MB/,
    );
    expect(out).toMatch(/operator RSS with 3 cached, settled: +\d+ MB after 1 s idle/);
    for (const what of ['key revocation', 'policy edit'])
      expect(out).toMatch(
        new RegExp(
          `${what} → 3 Verified=False: +\\d+\\.\\d\\d s \\(\\d+\\.\\d\\d× the API server's 3 status applies alone; goal ≤ 1\\.2×\\); ` +
            '\\d+ genomes read back, \\d+ genomes verified again',
        ),
      );
    expect(out).toMatch(/apply → Ready, single 4 KB Genomes \(2\): p50 \d+ ms, p99 \d+ ms/);
  }, 180_000);

  it('policy-admission.bench prints CPU per admission under 20 policies and 200 keys beside one policy', async () => {
    const out = await bench(
      'policy-admission.bench.ts',
      { BENCH_ROUNDS: '1', BENCH_GENOMES: '5', BENCH_PASSES: '1' },
      60_000,
    );
    for (const label of ['a new genome each request', 'the same genome again \\(cached\\)'])
      expect(out).toMatch(
        new RegExp(
          `${label} +1 policy/3 keys +\\d+\\.\\d µs +20 policies/200 keys +\\d+\\.\\d µs +ratio (\\d+\\.\\d{3}|n/a)`,
        ),
      );
  }, 120_000);

  it('gate.bench prints the gates of N pods after revocation and restore beside the API server', async () => {
    const out = await bench('gate.bench.ts', { BENCH_PODS: '5', BENCH_ROUNDS: '2' }, 170_000);
    expect(out).toMatch(/5 new pods → every gate True: +\d+\.\d\d s/);
    for (const round of [1, 2])
      expect(out).toMatch(
        new RegExp(
          `round ${round}: API server alone \\d+\\.\\d\\d s \\(\\d+ writes/s at 32 concurrent\\); ` +
            'revocation → every gate False \\d+\\.\\d\\d s \\(first \\d+ ms\\), ' +
            'restored → every gate True \\d+\\.\\d\\d s \\(first \\d+ ms\\)',
        ),
      );
    expect(out).toMatch(/API server alone, 5 pods\/status patches: \d+\.\d\d s median/);
    for (const what of ['key revocation → every gate False', 'key restored → every gate True'])
      expect(out).toMatch(
        new RegExp(
          `${what}: +\\d+\\.\\d\\d s median, \\d+\\.\\d\\d× the API server alone ` +
            '\\(\\d+\\.\\d\\d–\\d+\\.\\d\\d over 2 rounds\\); ' +
            "the operator's own latency to the first gate \\d+ ms median",
        ),
      );
    expect(out).toMatch(/gate writes counted by the operator: True \d+, False \d+/);
  }, 180_000);

  it('caches.bench prints the baseline and the RSS with unlabelled Deployments and labelled pods, running and fresh', async () => {
    const out = await bench(
      'caches.bench.ts',
      {
        BENCH_DEPLOYMENTS: '3',
        BENCH_PODS: '3',
        BENCH_ANNOTATION_KIB: '1',
        BENCH_SETTLE_MS: '1000',
      },
      170_000,
    );
    expect(out).toMatch(
      /baseline: the operator, nothing in the cluster +\d+ MB; V8 heap \d+ MB of \d+ MB/,
    );
    const added = String.raw` +\d+ MB  [+-]\d+\.\d MB \(goal < \+20 MB: (met|MISSED)\); V8 heap \d+ MB of \d+ MB`;
    for (const what of ['3 unlabelled Deployments', '3 labelled pods too']) {
      expect(out).toMatch(new RegExp(String.raw`\+ ${what}, running operator` + added));
      expect(out).toMatch(
        new RegExp(String.raw`\+ ${what}, fresh operator \(ready in \d+\.\d s\)` + added),
      );
    }
  }, 180_000);
});
