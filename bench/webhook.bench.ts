/**
 * Admission round trips over HTTPS with keep-alive against the webhook alone (in its own
 * process, so client and server do not share a thread), for a 4 KB and a ~1 MB genome at 1,
 * 16 and 128 concurrent requests: p50, p99 and throughput, beside the raw Ed25519 rate
 * measured in the same run.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { canonicalBytes } from '../core/canonical.ts';
import { verifyEd25519 } from '../core/ed25519.ts';
import { makeSigner, sortedKeys, trust } from '../core/test-fixtures.ts';
import { genomeOfSize } from './genomes.ts';
import { fmt, rate } from './measure.ts';

const signer = makeSigner('bench-key');
const trustedKey = trust(signer)[0]!.key;
const ROOT = join(import.meta.dirname, '..');

function review(genome: unknown, uid: number): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${uid}`,
      kind: { group: 'mathison.io', version: 'v1alpha1', kind: 'Genome' },
      resource: { group: 'mathison.io', version: 'v1alpha1', resource: 'genomes' },
      operation: 'CREATE',
      namespace: 'bench',
      name: 'g',
      object: {
        apiVersion: 'mathison.io/v1alpha1',
        kind: 'Genome',
        metadata: { name: 'g', namespace: 'bench' },
        spec: { genome },
      },
      dryRun: false,
    },
  });
}

/** One admission round trip; its latency in ms. Throws unless the genome was admitted. */
async function post(pool: Pool, body: string): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await pool.request({
    path: '/validate-genome',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await res.body.text();
  if (!(JSON.parse(text) as { response?: { allowed?: boolean } }).response?.allowed) {
    throw new Error(`not allowed: ${text.slice(0, 300)}`);
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function load(
  origin: { port: number; ca: string; pid: number },
  body: string,
  concurrency: number,
  total: number,
) {
  const { port, ca } = origin;
  // undici: a light client, so that the client is not what limits the measurement.
  const pool = new Pool(`https://127.0.0.1:${port}`, {
    connections: concurrency,
    connect: { ca },
    pipelining: 1,
  });
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next += 1;
      latencies.push(await post(pool, body));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => post(pool, body))); // warm connections
  const started = process.hrtime.bigint();
  const [clientCpu, serverCpu] = [process.cpuUsage(), cpuSeconds(origin.pid)];
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const client = process.cpuUsage(clientCpu);
  const cpu = {
    client: (client.user + client.system) / 1e6 / seconds,
    server: (cpuSeconds(origin.pid) - serverCpu) / seconds,
  };
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { p50: at(0.5), p99: at(0.99), throughput: latencies.length / seconds, cpu };
}

const pct = (x: number) => `${Math.round(x * 100)}%`.padStart(4);

const server = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/wprof'] : []),
    '--import',
    'tsx',
    join(ROOT, 'bench', 'webhook-server.ts'),
  ],
  {
    env: { ...process.env, BENCH_TRUST: `${signer.keyId}:${signer.publicKey}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
const { port, ca } = JSON.parse(line) as { port: number; ca: string };
console.log(
  `node ${process.version}; webhook in its own process on 127.0.0.1:${port}; HTTPS keep-alive\n`,
);

try {
  const only = process.env.BENCH_ONLY; // "4 KB" or "1 MB", to profile one size
  // BENCH_SCALE shrinks the request counts and BENCH_MS the raw measurement: the smoke test
  // (test/bench.test.ts) runs the whole benchmark in seconds that way.
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  const rawMs = Number(process.env.BENCH_MS ?? 1000);
  for (const [label, size, totals] of [
    ['4 KB', 4096, [2000, 6000, 6000]],
    ['1 MB', 1_000_000, [40, 120, 256]],
  ] as const) {
    if (only !== undefined && only !== label) continue;
    const genome = sortedKeys(genomeOfSize(size, signer));
    const body = review(genome, 1);
    const message = canonicalBytes(genome);
    const sig = Buffer.from(genome.signature!.sig_base64, 'base64');
    const raw = rate(() => verifyEd25519(trustedKey, message, sig), rawMs);
    console.log(
      `${label} genome (${message.length} canonical bytes; request body ${body.length} bytes)`,
    );
    console.log(`  raw Ed25519 verifies/s over the same bytes, this run: ${fmt(raw)}`);
    console.log('  concurrency        p50 ms     p99 ms   requests/s   vs raw   CPU server/client');
    for (const [i, concurrency] of [1, 16, 128].entries()) {
      const total = Math.max(concurrency, Math.round(totals[i]! * scale));
      const r = await load({ port, ca, pid: server.pid! }, body, concurrency, total);
      console.log(
        `  ${String(concurrency).padStart(11)} ${r.p50.toFixed(2).padStart(10)} ${r.p99.toFixed(2).padStart(10)} ${fmt(r.throughput).padStart(12)}   ${(r.throughput / raw).toFixed(2)}     ${pct(r.cpu.server)} / ${pct(r.cpu.client)}`,
      );
    }
    console.log('');
  }
} finally {
  server.kill('SIGTERM');
}
