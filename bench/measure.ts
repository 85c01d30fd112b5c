/** Tiny benchmarking helpers: time-boxed loops, several rounds, the median reported. */

/** Runs fn repeatedly for about `ms` and returns operations per second. */
export function rate(fn: () => unknown, ms: number): number {
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 16; i += 1) fn();
    ops += 16;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Measures several named workloads in interleaved rounds (so that machine noise hits them all
 * alike) and returns each one's median rate.
 */
export function compare(
  workloads: Record<string, () => unknown>,
  rounds: number,
  ms: number,
): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(workloads).map((k) => [k, []]),
  );
  for (const fn of Object.values(workloads)) rate(fn, 100); // warm up the JIT
  const entries = Object.entries(workloads);
  for (let r = 0; r < rounds; r += 1) {
    // Alternate the order each round, so that no workload always runs first or last.
    const order = r % 2 === 0 ? entries : [...entries].reverse();
    for (const [name, fn] of order) samples[name]!.push(rate(fn, ms));
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

/** Formats a rate with thousands separators. */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(10);
}
