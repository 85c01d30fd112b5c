/**
 * Summarises a V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes it) of the webhook
 * under load: self time of the top functions, and the time of each category of work. A
 * sample counts toward the nearest project function on its stack (so JSON.parse, crypto or
 * Buffer work counts where the project called it); a sample with no project function on its
 * stack is Node's own (TLS, HTTP, streams), the garbage collector, or idle.
 *
 *   tsx bench/profile-summary.ts /tmp/prof/CPU.*.cpuprofile
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  parent?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Project functions and files → category; the first rule that matches wins. */
const RULES: [RegExp, string][] = [
  [/webhook\/app\.ts:parseReview$/, 'parsing (JSON.parse of the body)'],
  [
    /webhook\/admission\.ts:(parseAdmissionReview|requestProblem|isObject)$/,
    'parsing (JSON.parse of the body)',
  ],
  [/core\/canonical\.ts:sha256Hex$/, 'hashing (SHA-256 genome id)'],
  [/core\/canonical\.ts:/, 'canonical bytes'],
  [/core\/(ed25519|base64)\.ts:/, 'verification (Ed25519)'],
  [/core\/verify\.ts:(checkSignature|signaturesVerify)$/, 'verification (Ed25519)'],
  [/core\/(genome|genome-schema)\.ts:/, 'schema validation'],
  [/core\/verify\.ts:/, 'strict checks'],
  [/core\/display\.ts:/, 'escaping'],
  [/core\/log\.ts:/, 'logging'],
  [/webhook\/admission\.ts:/, 'building the reply'],
  [/webhook\/app\.ts:sendJson$/, 'building the reply'],
  [/webhook\/app\.ts:readBody$|webhook\/app\.ts:$/, 'reading the body'],
  [/webhook\/validate-genome\.ts:/, 'admission steps (validate-genome.ts)'],
  [/webhook\/app\.ts:/, 'webhook glue (app.ts)'],
  [/bench\/webhook-server\.ts:.*jsonLogger/, 'logging'],
  [/bench\/webhook-server\.ts:noop/, 'no-op handler'],
  [/tls\/pki\.ts:/, 'startup (modules, certificates)'],
];

const NODE_IO =
  /^node:(net|tls|_tls_wrap|_http_\w+|http|https|stream|events|timers|internal\/(streams|stream_base_commons|process|timers|http))/;

const STARTUP = /node_modules\/(tsx|esbuild)\/|^node:internal\/modules\//;

function projectFrame(node: ProfileNode): string | undefined {
  const { url, functionName } = node.callFrame;
  if (url.includes('node_modules')) return undefined;
  const file = /\/((?:core|webhook|tls|bench|kube)\/[\w.-]+\.ts)$/.exec(url)?.[1];
  return file === undefined ? undefined : `${file}:${functionName}`;
}

function categoryOf(stack: ProfileNode[]): string {
  const leaf = stack[0]!.callFrame.functionName;
  if (leaf === '(garbage collector)') return 'garbage collector';
  if (leaf === '(idle)') return 'idle';
  for (const node of stack) {
    // Node's sockets, TLS, HTTP and streams below a project function are Node's work (a
    // write to a TLS socket encrypts and sends inside it), not the caller's.
    if (NODE_IO.test(node.callFrame.url)) return 'Node: TLS, HTTP, streams, timers';
    const frame = projectFrame(node);
    if (frame === undefined) continue;
    const rule = RULES.find(([re]) => re.test(frame));
    return rule ? rule[1] : `other project code (${frame})`;
  }
  if (leaf === '(program)') return 'native, unattributed ((program))';
  if (stack.some((n) => STARTUP.test(n.callFrame.url))) return 'startup (modules, certificates)';
  return 'Node: TLS, HTTP, streams, timers';
}

function summarise(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n.id;
  const self = new Map<string, number>();
  const category = new Map<string, number>();
  let total = 0;
  for (const [i, id] of profile.samples.entries()) {
    const us = profile.timeDeltas[i] ?? 0;
    const stack: ProfileNode[] = [];
    for (
      let n = byId.get(id);
      n !== undefined;
      n = n.parent === undefined ? undefined : byId.get(n.parent)
    )
      stack.push(n);
    const { functionName, url, lineNumber } = stack[0]!.callFrame;
    const name = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(?=(core|webhook|tls|bench|kube|node_modules)\/)/, '')}:${lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + us);
    const cat = categoryOf(stack);
    category.set(cat, (category.get(cat) ?? 0) + us);
    total += us;
  }
  const startup = category.get('startup (modules, certificates)') ?? 0;
  const busy = total - (category.get('idle') ?? 0) - startup;
  const show = (map: Map<string, number>, limit: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .forEach(([k, us]) =>
        console.log(
          `  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${k}`,
        ),
      );
  console.log(
    `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy after startup (percent of that)`,
  );
  console.log('By category (nearest project function on the stack):');
  show(category, 30);
  console.log('Top self time by function:');
  show(self, 40);
}

for (const file of process.argv.slice(2)) summarise(file);
