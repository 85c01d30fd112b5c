// A parser for the Dockerfile subset that images/build-image.ts can build without a daemon:
// instructions that only arrange files and metadata. RUN is refused on purpose (see
// docs/adr/0003-images-without-a-registry.md): what a RUN would do happens in the image's
// prepare.sh, on the host, before the build.

/** One COPY: sources (from the build context, or from an earlier stage) to a destination. */
export interface CopyInstruction {
  kind: 'COPY';
  line: number;
  from?: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  sources: string[];
  dest: string;
}

/** An instruction that changes only the image's configuration. */
export type ConfigInstruction =
  | { kind: 'ENV' | 'LABEL'; line: number; pairs: Array<[string, string]> }
  | { kind: 'USER' | 'WORKDIR'; line: number; value: string }
  | { kind: 'ENTRYPOINT' | 'CMD'; line: number; argv: string[] }
  | { kind: 'EXPOSE'; line: number; ports: string[] };

/** One instruction of a stage. */
export type Instruction = CopyInstruction | ConfigInstruction;

/** One build stage: `FROM scratch` or `FROM <earlier stage>`, then its instructions. */
export interface Stage {
  name?: string;
  base: 'scratch' | { stage: number };
  instructions: Instruction[];
}

/** A Dockerfile this builder cannot build; the message names the line and what to do. */
export class DockerfileError extends Error {
  constructor(line: number, message: string) {
    super(`Dockerfile line ${line}: ${message}`);
    this.name = 'DockerfileError';
  }
}

/** The stages of a Dockerfile, in order; throws DockerfileError on anything outside the subset. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const { line, keyword, rest } of logicalLines(text)) {
    if (keyword === 'FROM') {
      stages.push(parseFrom(line, rest, stages));
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new DockerfileError(line, `${keyword} before the first FROM`);
    stage.instructions.push(parseInstruction(line, keyword, rest));
  }
  if (stages.length === 0) throw new DockerfileError(1, 'no FROM: the file defines no image');
  return stages;
}

interface LogicalLine {
  line: number;
  keyword: string;
  rest: string;
}

/** Lines joined at trailing backslashes, without comments and blank lines. */
function logicalLines(text: string): LogicalLine[] {
  const result: LogicalLine[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (pending === '') startLine = index + 1;
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1)} `;
      return;
    }
    const whole = `${pending}${trimmed}`.trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(whole);
    if (match) result.push({ line: startLine, keyword: match[1]!.toUpperCase(), rest: match[2]! });
  });
  if (pending !== '') throw new DockerfileError(startLine, 'the file ends inside a continued line');
  return result;
}

function parseFrom(line: number, rest: string, stages: Stage[]): Stage {
  const [image, as, name, ...extra] = rest.split(/\s+/);
  if (extra.length > 0 || (as !== undefined && (as.toUpperCase() !== 'AS' || !name)))
    throw new DockerfileError(line, `expected FROM <image> [AS <name>], got FROM ${rest}`);
  const stageName = name?.toLowerCase();
  if (image === 'scratch') return { name: stageName, base: 'scratch', instructions: [] };
  const index = stages.findIndex((s) => s.name === image?.toLowerCase());
  if (index < 0) {
    throw new DockerfileError(
      line,
      `FROM ${image}: only scratch or an earlier stage can be a base (no registry is reachable); ` +
        'build the base as a stage from files prepare.sh writes into the context',
    );
  }
  return { name: stageName, base: { stage: index }, instructions: [] };
}

function parseInstruction(line: number, keyword: string, rest: string): Instruction {
  switch (keyword) {
    case 'COPY':
      return parseCopy(line, rest);
    case 'ENV':
    case 'LABEL':
      return { kind: keyword, line, pairs: parsePairs(line, rest) };
    case 'USER':
    case 'WORKDIR':
      if (rest === '') throw new DockerfileError(line, `${keyword} needs a value`);
      return { kind: keyword, line, value: rest };
    case 'ENTRYPOINT':
    case 'CMD':
      return { kind: keyword, line, argv: parseExecForm(line, keyword, rest) };
    case 'EXPOSE':
      return { kind: 'EXPOSE', line, ports: rest.split(/\s+/).map(exposedPort) };
    default:
      throw new DockerfileError(
        line,
        `${keyword} is not supported: this builder runs nothing and fetches nothing; ` +
          "do the work in the image directory's prepare.sh and COPY its result",
      );
  }
}

function exposedPort(port: string): string {
  return port.includes('/') ? port : `${port}/tcp`;
}

function parseCopy(line: number, rest: string): CopyInstruction {
  const words = rest.split(/\s+/);
  const copy: CopyInstruction = { kind: 'COPY', line, sources: [], dest: '' };
  while (words[0]?.startsWith('--')) {
    const [flag, value = ''] = words.shift()!.slice(2).split('=', 2) as [string, string?];
    if (flag === 'from') copy.from = value.toLowerCase();
    else if (flag === 'chown') copy.chown = parseChown(line, value);
    else if (flag === 'chmod' && /^[0-7]{3,4}$/.test(value)) copy.chmod = parseInt(value, 8);
    else throw new DockerfileError(line, `COPY --${flag}=${value} is not supported`);
  }
  if (words.length < 2) throw new DockerfileError(line, 'COPY needs a source and a destination');
  if (words.some((w) => /[*?[]/.test(w)))
    throw new DockerfileError(line, 'COPY with wildcards is not supported: name the files');
  copy.dest = words.pop()!;
  copy.sources = words;
  return copy;
}

function parseChown(line: number, value: string): { uid: number; gid: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!match) throw new DockerfileError(line, `COPY --chown=${value}: use numeric ids (uid[:gid])`);
  const uid = Number(match[1]);
  return { uid, gid: match[2] === undefined ? uid : Number(match[2]) };
}

function parseExecForm(line: number, keyword: string, rest: string): string[] {
  let argv: unknown;
  try {
    argv = JSON.parse(rest);
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string'))
    throw new DockerfileError(
      line,
      `${keyword} must be in exec form, a JSON array of strings (there is no shell in the image)`,
    );
  return argv as string[];
}

function parsePairs(line: number, rest: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const pattern = /([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)\s*/y;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < rest.length && (match = pattern.exec(rest))) {
    const raw = match[2]!;
    pairs.push([match[1]!, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw]);
  }
  if (pairs.length === 0 || pattern.lastIndex < rest.length)
    throw new DockerfileError(line, `expected KEY=value pairs, got ${rest}`);
  return pairs;
}
