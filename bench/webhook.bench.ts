/**
 * Admission round trips over HTTPS with keep-alive against the webhook alone (in its own
 * process, so client and server do not share a thread), for a 4 KB and a ~1 MB genome at 1,
 * 16 and 128 concurrent requests: p50, p99 and throughput. Beside it, in the same run, with
 * the same client and body: a no-op server on the same HTTPS stack (body read, JSON.parse, a
 * fixed reply; bench/webhook-server.ts), the raw Ed25519 rate over the same canonical bytes,
 * and the composed ceiling 1 / (1/no-op + 1/raw): what an admission would cost if it were only
 * the round trip, the parse and one verification. For 1 MB the ceiling also counts one
 * canonical serialisation of the genome (JSON.parse of the body is inside the no-op already;
 * its rate is printed too). And the ceiling measured: a third server doing the no-op's work and
 * that raw verification (and serialisation) itself, loaded in the same row; the composed ceiling
 * adds costs measured in a tight loop, which a server does not reach (docs/benchmarks.md).
 *
 * Then pod admission (the mutating webhook's /mutate-pod, bench/pods.ts): a labelled pod naming
 * a Genome verified in the webhook's cache, at 1, 16 and 128 concurrent, beside the same no-op
 * and the raw Ed25519 rate of the same run. A pod admission verifies nothing (the operator did,
 * the cache holds its verdict), so its ceiling is the no-op round trip itself; the reply carries
 * the JSON patch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { canonicalBytes } from '../core/canonical.ts';
import { verifyEd25519 } from '../core/ed25519.ts';
import { genomeOfSize, keyPair, sortedKeys, trusted } from '../test/builders/index.ts';
import { fmt, median, rate } from './measure.ts';
import { podReview } from './pods.ts';

const signer = keyPair('bench-key');
const trustedKey = trusted(signer)[0]!.key;
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

/** What one load posts: the path and body, and whether the answer must carry a patch. */
interface Target {
  path: '/validate-genome' | '/mutate-pod';
  body: string;
  /** The webhook must answer with a JSON patch (the no-op never does). */
  patched: boolean;
}

/** One admission round trip; its latency in ms. Throws unless the object was admitted. */
async function post(pool: Pool, target: Target, patched: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await pool.request({
    path: target.path,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: target.body,
  });
  const text = await res.body.text();
  const response = (JSON.parse(text) as { response?: { allowed?: boolean; patch?: string } })
    .response;
  if (!response?.allowed || (patched && response.patch === undefined)) {
    throw new Error(`not allowed${patched ? ' with a patch' : ''}: ${text.slice(0, 300)}`);
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** The servers of bench/webhook-server.ts. */
type Handler = 'webhook' | 'noop' | 'ceiling';

interface Origin {
  handler: Handler;
  port: number;
  ca: string;
  pid: number;
  process: ChildProcess;
}

interface Load {
  p50: number;
  p99: number;
  throughput: number;
  cpu: { client: number; server: number };
  /** Server CPU per request, in µs: robust to other load on the machine, unlike throughput. */
  cpuMicros: number;
}

async function load(
  origin: Origin,
  target: Target,
  concurrency: number,
  total: number,
): Promise<Load> {
  const { port, ca } = origin;
  // undici: a light client, so that the client is not what limits the measurement.
  const pool = new Pool(`https://127.0.0.1:${port}`, {
    connections: concurrency,
    // Generous: 128 TLS handshakes queue behind 1 MB admissions on a busy 2-core machine.
    connect: { ca, timeout: 120_000 },
    pipelining: 1,
  });
  const latencies: number[] = [];
  let next = 0;
  const patched = target.patched && origin.handler === 'webhook';
  const worker = async () => {
    while (next < total) {
      next += 1;
      latencies.push(await post(pool, target, patched));
    }
  };
  // Warm the connections.
  await Promise.all(Array.from({ length: concurrency }, () => post(pool, target, patched)));
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
  const throughput = latencies.length / seconds;
  const cpuMicros = (cpu.server * 1e6) / throughput;
  return { p50: at(0.5), p99: at(0.99), throughput, cpu, cpuMicros };
}

/** Starts bench/webhook-server.ts with a handler; resolves once it listens. */
async function start(handler: Handler): Promise<Origin> {
  // BENCH_PROFILE=dir writes a CPU profile of each server into dir/<handler> when it exits
  // (summarise with bench/profile-summary.ts): all of them served the same requests.
  const profile = process.env.BENCH_PROFILE;
  const child = spawn(
    process.execPath,
    [
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${join(profile, handler)}`] : []),
      '--import',
      'tsx',
      join(ROOT, 'bench', 'webhook-server.ts'),
    ],
    {
      env: {
        ...process.env,
        BENCH_HANDLER: handler,
        BENCH_TRUST: `${signer.keyId}:${signer.publicKey}`,
        BENCH_CEILING: CEILING_FILE,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { port, ca } = JSON.parse(line) as { port: number; ca: string };
  return { handler, port, ca, pid: child.pid!, process: child };
}

const pct = (x: number) => `${Math.round(x * 100)}%`.padStart(4);
const ms = (x: number) => x.toFixed(2).padStart(8);
/** A ratio, or n/a when its denominator was 0 (a CPU time below the clock's resolution in a short run). */
const ratio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a').padStart(6);

/** What the ceiling adds to a no-op round trip: per operation, wall and CPU seconds. */
interface Costs {
  raw: number;
  /** Sum over the work the ceiling counts (raw verification, and more for 1 MB). */
  seconds: number;
  cpuSeconds: number;
}

/**
 * Measures the ceiling's work (raw verification first) in the client process, right before
 * and right after a row's loads, and averages: the row's ceiling sees the same machine.
 */
function measureCosts(work: (() => unknown)[], ms: number): Costs {
  const samples = work.map((fn) => {
    const cpu = process.cpuUsage();
    const perSecond = rate(fn, ms);
    const used = process.cpuUsage(cpu);
    // rate() runs for about ms: CPU per op from the ops it counted.
    const ops = (perSecond * ms) / 1000;
    return { perSecond, cpu: (used.user + used.system) / 1e6 / ops };
  });
  return {
    raw: samples[0]!.perSecond,
    seconds: samples.reduce((a, s) => a + 1 / s.perSecond, 0),
    cpuSeconds: samples.reduce((a, s) => a + s.cpu, 0),
  };
}

function mean(a: Costs, b: Costs): Costs {
  return {
    raw: (a.raw + b.raw) / 2,
    seconds: (a.seconds + b.seconds) / 2,
    cpuSeconds: (a.cpuSeconds + b.cpuSeconds) / 2,
  };
}

const HEADER = [
  '  conc   no-op/s   ceiling/s  webhook/s  vs ceiling  vs raw     raw/s',
  '  p50 ms (no-op)  p99 ms (no-op)   CPU µs/req (ceiling)  vs ceiling  CPU server/client',
].join('  ');

function row(concurrency: number, noop: Load, hook: Load, costs: Costs) {
  const ceiling = 1 / (1 / noop.throughput + costs.seconds);
  const cpuCeiling = noop.cpuMicros + costs.cpuSeconds * 1e6;
  return [
    `  ${String(concurrency).padStart(4)}`,
    fmt(noop.throughput),
    `${fmt(ceiling)} `,
    fmt(hook.throughput),
    `${ratio(hook.throughput / ceiling)}    `,
    ratio(hook.throughput / costs.raw),
    fmt(costs.raw),
    ` ${ms(hook.p50)} (${ms(noop.p50)})`,
    `${ms(hook.p99)} (${ms(noop.p99)})`,
    `  ${hook.cpuMicros.toFixed(0).padStart(7)} (${cpuCeiling.toFixed(0).padStart(7)})`,
    `${ratio(cpuCeiling / hook.cpuMicros)}    `,
    `    ${pct(hook.cpu.server)} / ${pct(hook.cpu.client)}`,
  ].join(' ');
}

/**
 * The ceiling measured in one server (bench/webhook-server.ts, BENCH_HANDLER=ceiling): the no-op
 * plus one raw verification of the same bytes (1 MB: and one canonical serialisation), loaded
 * like the others in the same row. The composed ceiling adds costs measured apart; this one
 * pays them inside a server, where the caches are shared with TLS and HTTP.
 */
function measuredRow(m: Load, hook: Load) {
  return [
    `        measured ceiling (no-op + raw verification, one server): ${fmt(m.throughput).trim()}/s,`,
    `webhook ${ratio(hook.throughput / m.throughput).trim()} of it; p50 ${m.p50.toFixed(2)} ms,`,
    `p99 ${m.p99.toFixed(2)} ms; CPU ${m.cpuMicros.toFixed(0)} µs/req,`,
    `webhook ${ratio(m.cpuMicros / hook.cpuMicros).trim()} of it in CPU`,
  ].join(' ');
}

const POD_HEADER = [
  '  conc   no-op/s     pods/s  vs no-op  vs raw     raw/s',
  '  p50 ms (no-op)  p99 ms (no-op)   CPU µs/req (no-op)  CPU server/client',
].join('  ');

function podRow(concurrency: number, noop: Load, hook: Load, raw: number) {
  return [
    `  ${String(concurrency).padStart(4)}`,
    fmt(noop.throughput),
    fmt(hook.throughput),
    `${ratio(hook.throughput / noop.throughput)}  `,
    ratio(hook.throughput / raw),
    fmt(raw),
    ` ${ms(hook.p50)} (${ms(noop.p50)})`,
    `${ms(hook.p99)} (${ms(noop.p99)})`,
    `  ${hook.cpuMicros.toFixed(0).padStart(7)} (${noop.cpuMicros.toFixed(0).padStart(7)})`,
    `    ${pct(hook.cpu.server)} / ${pct(hook.cpu.client)}`,
  ].join(' ');
}

/**
 * Pod admissions through /mutate-pod beside the no-op, with the raw Ed25519 rate (over a 4 KB
 * genome's canonical bytes) measured right before and right after each row.
 */
async function pods(scale: number, rawMs: number): Promise<void> {
  const genome = sortedKeys(genomeOfSize(4096, signer));
  const message = canonicalBytes(genome);
  const sig = Buffer.from(genome.signature!.sig_base64, 'base64');
  const raw = () => rate(() => verifyEd25519(trustedKey, message, sig), rawMs);
  const body = podReview(1);
  console.log(
    `pod admission (/mutate-pod, Genome verified in the cache; request body ${body.length} bytes)`,
  );
  console.log(POD_HEADER);
  const raws: number[] = [];
  for (const [i, [concurrency, count]] of [
    [1, 2000],
    [16, 6000],
    [128, 6000],
  ].entries()) {
    const total = Math.max(concurrency!, Math.round(count! * scale));
    const before = raw();
    const pair = i % 2 === 0 ? [noop, hook] : [hook, noop];
    const results = new Map<Origin, Load>();
    for (const origin of pair) {
      const target: Target = { path: '/mutate-pod', body, patched: true };
      results.set(origin, await load(origin, target, concurrency!, total));
    }
    const rawRate = (before + raw()) / 2;
    raws.push(rawRate);
    console.log(podRow(concurrency!, results.get(noop)!, results.get(hook)!, rawRate));
  }
  console.log(`  raw Ed25519 verifies/s (4 KB genome), this run: ${fmt(median(raws))}`);
  console.log('');
}

const SIZES = [
  ['4 KB', 4096, [2000, 6000, 6000]],
  ['1 MB', 1_000_000, [40, 120, 256]],
] as const;
const GENOMES = SIZES.map(([, size]) => sortedKeys(genomeOfSize(size, signer)));
// What the measured ceiling verifies for each body: the same canonical bytes and signature.
const CEILING_FILE = join(mkdtempSync(join(tmpdir(), 'genome-bench-')), 'ceiling.json');
writeFileSync(
  CEILING_FILE,
  JSON.stringify(
    SIZES.map(([, size], i) => {
      const genome = GENOMES[i]!;
      return [
        Buffer.byteLength(review(genome, 1)),
        Buffer.from(canonicalBytes(genome)).toString('base64'),
        genome.signature!.sig_base64,
        size > 100_000,
      ];
    }),
  ),
);
const [hook, noop, measured] = [
  await start('webhook'),
  await start('noop'),
  await start('ceiling'),
];
console.log(
  `node ${process.version}; webhook, no-op and measured ceiling each in its own process; HTTPS keep-alive; undici client\n`,
);

try {
  const only = process.env.BENCH_ONLY; // "4 KB" or "1 MB", to profile one size
  // BENCH_SCALE shrinks the request counts and BENCH_MS the raw measurement: the smoke test
  // (test/bench.test.ts) runs the whole benchmark in seconds that way.
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  const rawMs = Number(process.env.BENCH_MS ?? 1000);
  for (const [s, [label, size, totals]] of SIZES.entries()) {
    if (only !== undefined && only !== label) continue;
    const genome = GENOMES[s]!;
    const body = review(genome, 1);
    const message = canonicalBytes(genome);
    const sig = Buffer.from(genome.signature!.sig_base64, 'base64');
    const work: (() => unknown)[] = [() => verifyEd25519(trustedKey, message, sig)];
    console.log(
      `${label} genome (${message.length} canonical bytes; request body ${body.length} bytes)`,
    );
    if (size > 100_000) {
      const parse = rate(() => JSON.parse(body), rawMs);
      console.log(`  JSON.parse of the body/s (inside the no-op), this run: ${fmt(parse)}`);
      work.push(() => canonicalBytes(genome, true));
      const canonical = rate(work[1]!, rawMs);
      console.log(`  canonical serialisations/s (in the ceiling), this run: ${fmt(canonical)}`);
    }
    console.log(HEADER);
    const raws: number[] = [];
    let single: [number, number, number] = [0, 0, 0];
    let singleMeasured = 0;
    for (const [i, concurrency] of [1, 16, 128].entries()) {
      const total = Math.max(concurrency, Math.round(totals[i]! * scale));
      const before = measureCosts(work, rawMs);
      // The no-op first on even rows, the webhook first on odd ones: noise hits all alike.
      const order = [noop, measured, hook];
      if (i % 2 === 1) order.reverse();
      const results = new Map<Origin, Load>();
      for (const origin of order) {
        const target: Target = { path: '/validate-genome', body, patched: false };
        results.set(origin, await load(origin, target, concurrency, total));
      }
      const costs = mean(before, measureCosts(work, rawMs));
      raws.push(costs.raw);
      console.log(row(concurrency, results.get(noop)!, results.get(hook)!, costs));
      console.log(measuredRow(results.get(measured)!, results.get(hook)!));
      if (concurrency === 1) {
        single = [results.get(noop)!.p50, results.get(hook)!.p50, costs.raw];
        singleMeasured = results.get(measured)!.p50;
      }
    }
    const [noopP50, hookP50, raw] = single;
    console.log(`  raw Ed25519 verifies/s over the same bytes, this run: ${fmt(median(raws))}`);
    console.log(
      `  at 1 concurrent: webhook p50 / (no-op p50 + one raw verification) = ${(hookP50 / (noopP50 + 1000 / raw)).toFixed(2)}; / measured ceiling p50 = ${(hookP50 / singleMeasured).toFixed(2)}`,
    );
    console.log('');
  }
  if (only === undefined || only === 'pods') await pods(scale, rawMs);
} finally {
  for (const origin of [hook, noop, measured]) origin.process.kill('SIGTERM');
  rmSync(dirname(CEILING_FILE), { recursive: true, force: true });
}
