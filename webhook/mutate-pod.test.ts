import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.ts';
import { configMapView, genomeView } from '../core/publication.ts';
import { declaring, genome, keyPair, publishedGenome } from '../test/builders/index.ts';
import { DEFAULT_POLICY } from '../core/verify.ts';
import { createApp } from './app.ts';
import { decidePodMutation, type PublishedCaches } from './mutate-pod.ts';

const SETTINGS = { image: 'genome.local/genome-operator:v1', imagePullPolicy: 'Never' };
/** The trusted keys are current (the webhook's usual state). */
const CURRENT = { trustCurrent: true };

const PUBLISHED = publishedGenome({
  name: 'totk',
  namespace: 'apps',
  genome: genome(declaring(keyPair('k-1'))),
});
const ID = PUBLISHED.genomeId;
const state = { synced: true, lookups: [] as string[] };
const genomes = new Map([['apps/totk', genomeView(PUBLISHED.genome)]]);
const configMaps = new Map([
  [`apps/${PUBLISHED.configMapName}`, configMapView(PUBLISHED.configMap)],
]);
const cache: PublishedCaches = {
  genomes: {
    get: (key) => {
      state.lookups.push(key);
      return genomes.get(key);
    },
    synced: () => state.synced,
  },
  configMaps: {
    get: (key) => {
      state.lookups.push(key);
      return configMaps.get(key);
    },
    synced: () => true,
  },
};

const podReview = (labels: Record<string, string>, extra: object = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u-9',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'apps',
    object: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'm' }] } },
    ...extra,
  },
});

let server: Server;
let base: string;
beforeAll(async () => {
  const app = createApp({
    trust: { keys: () => [], policies: () => [], namespaceLabels: () => ({}), synced: () => true },
    certificateValid: () => true,
    policy: DEFAULT_POLICY,
    log: silentLogger,
    bodies: { validateGenome: 64 * 1024, mutatePod: 64 * 1024 },
    pods: { ...cache, injection: SETTINGS },
  });
  server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const post = async (body: unknown) => {
  const res = await fetch(`${base}/mutate-pod?timeout=5s`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as { response: Record<string, any> } };
};

describe('POST /mutate-pod', () => {
  it('answers a labelled pod of a verified Genome with a JSON Patch that injects it', async () => {
    const { status, body } = await post(podReview({ 'genome.mathison.io/genome': 'totk' }));
    expect(status).toBe(200);
    expect(body.response).toMatchObject({ uid: 'u-9', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8'));
    const paths = patch.map((op: { path: string }) => op.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/metadata/annotations',
        '/spec/volumes',
        '/spec/containers',
        '/spec/initContainers',
        '/spec/readinessGates',
      ]),
    );
    const annotations = patch.find((op: { path: string }) => op.path === '/metadata/annotations');
    expect(annotations.value['genome.mathison.io/id']).toBe(ID);
  });

  it('refuses a pod naming a missing Genome with the code, fail closed', async () => {
    const { body } = await post(podReview({ 'genome.mathison.io/genome': 'nope' }));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.code).toBe(403);
    expect(body.response.status.message).toMatch(
      /^GENOME_MISSING: Genome apps\/nope does not exist/,
    );
  });

  it('reads the Genome and its ConfigMap from the caches, in the pod’s own namespace', async () => {
    state.lookups = [];
    await post(podReview({ 'genome.mathison.io/genome': 'totk' }));
    expect(state.lookups).toEqual(['apps/totk', `apps/${PUBLISHED.configMapName}`]);
  });

  it('refuses a pod whose Genome names a ConfigMap that is not its publication, fail closed', async () => {
    const forged = {
      ...PUBLISHED.genome,
      status: { ...PUBLISHED.genome.status, configMapName: 'mine' },
    };
    genomes.set(
      'apps/forged',
      genomeView({ ...forged, metadata: { ...forged.metadata, name: 'forged' } }),
    );
    const { body } = await post(podReview({ 'genome.mathison.io/genome': 'forged' }));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.message).toMatch(
      /^GENOME_PUBLICATION_INVALID: Genome apps\/forged /,
    );
  });
});

describe('POST /mutate-pod, an application container in production mode', () => {
  const production = (container: object) =>
    podReview(
      { 'genome.mathison.io/genome': 'totk' },
      {
        object: {
          metadata: { labels: { 'genome.mathison.io/genome': 'totk' } },
          spec: {
            containers: [
              { name: 'app', image: 'm:1', env: [{ name: 'MATHISON_ENV', value: 'production' }] },
            ].map((c) => ({ ...c, ...container })),
          },
        },
      },
    );

  it('refuses one whose root in its image is unknown (GENOME_MANIFEST_ROOT_UNKNOWN), saying what to set', async () => {
    const { body } = await post(production({}));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.message).toMatch(/^GENOME_MANIFEST_ROOT_UNKNOWN: container app /);
    expect(body.response.status.message).toContain('MATHISON_REPO_ROOT');
  });

  it('mounts its image into the boot check when its workingDir says the root', async () => {
    const { body } = await post(production({ workingDir: '/app' }));
    expect(body.response.allowed).toBe(true);
    const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8'));
    const volumes = patch.find((op: { path: string }) => op.path === '/spec/volumes').value;
    expect(volumes).toContainEqual({
      name: 'mathison-app-image-0',
      image: { reference: 'm:1', pullPolicy: 'IfNotPresent' },
    });
  });
});

describe('decidePodMutation', () => {
  const request = (review: ReturnType<typeof podReview>) => review.request as never;

  it('refuses while the Genome cache has not synced (WEBHOOK_NOT_READY)', () => {
    state.synced = false;
    try {
      const decision = decidePodMutation(
        request(podReview({ 'genome.mathison.io/genome': 'totk' })),
        cache,
        SETTINGS,
        CURRENT,
      );
      expect(decision.response.allowed).toBe(false);
      expect(decision.code).toBe('WEBHOOK_NOT_READY');
    } finally {
      state.synced = true;
    }
  });

  it('refuses a labelled pod while the trusted keys are not current (TRUST_KEYS_STALE): the Genome status may predate a revocation', () => {
    const labelled = request(podReview({ 'genome.mathison.io/genome': 'totk' }));
    const decision = decidePodMutation(labelled, cache, SETTINGS, { trustCurrent: false });
    expect(decision.response.allowed).toBe(false);
    expect(decision.code).toBe('TRUST_KEYS_STALE');
    const plain = decidePodMutation(request(podReview({ app: 'x' })), cache, SETTINGS, {
      trustCurrent: false,
    });
    expect(plain.response.allowed).toBe(true);
  });

  it('lets an unlabelled pod and a non-CREATE through untouched', () => {
    const plain = decidePodMutation(request(podReview({ app: 'x' })), cache, SETTINGS, CURRENT);
    expect(plain.response).toEqual({ uid: 'u-9', allowed: true });
    const same = { metadata: { labels: { 'genome.mathison.io/genome': 'nope' } } };
    const update = decidePodMutation(
      request(
        podReview(
          { 'genome.mathison.io/genome': 'nope' },
          { operation: 'UPDATE', oldObject: same },
        ),
      ),
      cache,
      SETTINGS,
      CURRENT,
    );
    expect(update.response).toEqual({ uid: 'u-9', allowed: true });
  });

  it.each([
    ['added', {}, { 'genome.mathison.io/genome': 'totk' }, /from none to totk/],
    ['removed', { 'genome.mathison.io/genome': 'totk' }, {}, /from totk to none/],
    [
      'changed',
      { 'genome.mathison.io/genome': 'a' },
      { 'genome.mathison.io/genome': 'b' },
      /from a to b/,
    ],
  ])(
    'refuses an UPDATE where the genome label is %s (POD_GENOME_LABEL_CHANGED)',
    (_what, before, after, message) => {
      const oldObject = { metadata: { labels: before } };
      const decision = decidePodMutation(
        request(podReview(after, { operation: 'UPDATE', oldObject })),
        cache,
        SETTINGS,
        CURRENT,
      );
      expect(decision.code).toBe('POD_GENOME_LABEL_CHANGED');
      expect(decision.response.allowed).toBe(false);
      expect(decision.response.status?.message).toMatch(message);
    },
  );

  it('refuses anything but a Pod (WEBHOOK_MISCONFIGURED)', () => {
    const review = podReview({ 'genome.mathison.io/genome': 'totk' });
    review.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    const decision = decidePodMutation(request(review), cache, SETTINGS, CURRENT);
    expect(decision.code).toBe('WEBHOOK_MISCONFIGURED');
    expect(decision.response.allowed).toBe(false);
  });
});

describe('the request metric of /mutate-pod', () => {
  it('counts each pod admission once, by result', async () => {
    const count = async (result: string) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) =>
          l.startsWith(`genome_webhook_requests_total{endpoint="mutate-pod",result="${result}"} `),
        );
      return Number(line?.split(' ')[1] ?? NaN);
    };
    const [allowed, refused] = [await count('allowed'), await count('refused')];
    await post(podReview({ 'genome.mathison.io/genome': 'totk' }));
    await post(podReview({ 'genome.mathison.io/genome': 'nope' }));
    expect([await count('allowed'), await count('refused')]).toEqual([allowed + 1, refused + 1]);
  });
});
