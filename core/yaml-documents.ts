/**
 * Bounded reading of Kubernetes manifests in YAML (a policy file, a Secret as `kubectl get -o
 * yaml` prints it): the text's size, the number of objects and the expansion of aliases are
 * limited before anything grows with them, and every failure is a refusal, never a throw.
 * Read as YAML 1.1, as kubectl reads it (go-yaml): `yes` is true, `<<` merges.
 */
import { Composer, LineCounter, Parser, type Document, type YAMLError } from 'yaml';
import { refuse, type Refusal, type RefusalCode } from './codes.ts';
import { displayText } from './display.ts';

/** Most alias expansions a document may make (the `yaml` package's measure): a bomb's guard. */
export const MAX_YAML_ALIAS_COUNT = 100;

/** What a reading may hold, and the codes it refuses with. */
export interface YamlLimits {
  maxBytes: number;
  /** Most documents, and most objects once `kind: List`s are opened. */
  maxObjects: number;
  unreadable: RefusalCode;
  tooLarge: RefusalCode;
}

/** One object of the file, and where it is (`document 2`, `document 1, items[3]`). */
export interface YamlObject {
  value: unknown;
  where: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The objects of a multi-document YAML text, each `kind: List` opened into its items; empty
 * documents are skipped. Refuses (never throws) text over maxBytes, more than maxObjects
 * documents or objects, a syntax error, a duplicate key, an unknown tag, or aliases that
 * expand past MAX_YAML_ALIAS_COUNT. Messages carry positions, never the text itself.
 */
export function readYamlObjects(
  text: string,
  source: string,
  limits: YamlLimits,
): YamlObject[] | Refusal {
  // UTF-8 never takes fewer bytes than UTF-16 units: a long string is refused unmeasured.
  if (text.length > limits.maxBytes)
    return refuse(
      limits.tooLarge,
      `${source} is at least ${text.length} bytes, over the limit of ${limits.maxBytes}`,
    );
  const bytes = utf8Length(text);
  if (bytes > limits.maxBytes)
    return refuse(
      limits.tooLarge,
      `${source} is ${bytes} bytes, over the limit of ${limits.maxBytes}`,
    );
  try {
    const documents = readDocuments(text, source, limits);
    if ('code' in documents) return documents;
    return openLists(documents, source, limits);
  } catch (err) {
    // A stack overflow on absurd nesting, or a bug: refused, not thrown.
    const why = err instanceof Error ? err.message : 'an unexpected error';
    return refuse(limits.unreadable, `${source} cannot be read as YAML (${displayText(why, 200)})`);
  }
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

function readDocuments(text: string, source: string, limits: YamlLimits): YamlObject[] | Refusal {
  const lines = new LineCounter();
  const composer = new Composer({ version: '1.1', uniqueKeys: true, prettyErrors: false });
  const objects: YamlObject[] = [];
  let count = 0;
  // compose() is lazy: a file of ten thousand documents is refused at the limit, not parsed.
  const documents = composer.compose(new Parser(lines.addNewLine).parse(text));
  for (const document of [...iterate(documents, limits.maxObjects + 1), ...composer.end()]) {
    count += 1;
    if (count > limits.maxObjects) return tooMany(source, limits);
    const read = documentValue(document, `${source}, document ${count}`, lines, limits);
    if (!read.ok) return read.refusal;
    if (read.value !== null && read.value !== undefined)
      objects.push({ value: read.value, where: `document ${count}` });
  }
  return objects;
}

/** The first `max` items of a generator, leaving the rest unread. */
function* iterate<T>(items: Iterable<T>, max: number): Generator<T> {
  let n = 0;
  for (const item of items) {
    yield item;
    n += 1;
    if (n >= max) return;
  }
}

function documentValue(
  document: Document.Parsed,
  where: string,
  lines: LineCounter,
  limits: YamlLimits,
): { ok: true; value: unknown } | { ok: false; refusal: Refusal } {
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem !== undefined)
    return {
      ok: false,
      refusal: refuse(
        limits.unreadable,
        `${where} is not YAML that kubectl reads: ${describe(problem, lines)}`,
      ),
    };
  try {
    return { ok: true, value: document.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }) };
  } catch (err) {
    const why = err instanceof Error ? err.message : 'an unexpected error';
    const message = `${where}: its aliases expand too far (${displayText(why, 200)})`;
    return { ok: false, refusal: refuse(limits.unreadable, message) };
  }
}

function describe(error: YAMLError, lines: LineCounter): string {
  const { line, col } = lines.linePos(error.pos[0]);
  const first = error.message.split('\n')[0] ?? '';
  return `${error.code} at line ${line}, column ${col}: ${displayText(first, 200)}`;
}

function tooMany(source: string, limits: YamlLimits): Refusal {
  return refuse(
    limits.tooLarge,
    `${source} holds more than ${limits.maxObjects} objects, the limit; split it`,
  );
}

/** Each `kind: List` replaced by its items, counted against the limit before they are taken. */
function openLists(
  documents: YamlObject[],
  source: string,
  limits: YamlLimits,
): YamlObject[] | Refusal {
  const objects: YamlObject[] = [];
  for (const { value, where } of documents) {
    if (!isRecord(value) || value.kind !== 'List') {
      objects.push({ value, where });
      continue;
    }
    const items = value.items ?? [];
    if (!Array.isArray(items))
      return refuse(limits.unreadable, `${source}, ${where}: a List's items must be a list`);
    if (objects.length + items.length > limits.maxObjects) return tooMany(source, limits);
    objects.push(...items.map((item, i) => ({ value: item, where: `${where}, items[${i}]` })));
  }
  return objects;
}
