/** The release's chart: a copy of charts/genome-operator whose values pin the image by digest, packaged. */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseDocument } from 'yaml';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** values.yaml with image.tag and image.digest set; comments and everything else kept. */
export function pinImage(valuesYaml: string, tag: string, digest: string): string {
  if (!DIGEST.test(digest))
    throw new Error(`image digest ${JSON.stringify(digest)} is not sha256:<64 hex>`);
  const doc = parseDocument(valuesYaml);
  if (!doc.hasIn(['image', 'digest']))
    throw new Error('the chart values have no image.digest; the chart cannot pin the image');
  doc.setIn(['image', 'tag'], tag);
  doc.setIn(['image', 'digest'], digest);
  return doc.toString();
}

/** Chart.yaml with version and appVersion set to the release's version. */
export function pinChartVersion(chartYaml: string, version: string): string {
  const doc = parseDocument(chartYaml);
  doc.set('version', version);
  doc.set('appVersion', version);
  return doc.toString();
}

/**
 * `helm package` of a copy of `chartDir` with the image pinned; writes the .tgz into `outDir`
 * and returns its path. The chart source is left as it is.
 */
export function packageChart(
  helm: string,
  chartDir: string,
  outDir: string,
  pin: { version: string; digest: string },
): string {
  const work = mkdtempSync(join(tmpdir(), 'genome-release-chart-'));
  try {
    const copy = join(work, 'genome-operator');
    cpSync(chartDir, copy, { recursive: true });
    const values = join(copy, 'values.yaml');
    writeFileSync(values, pinImage(readFileSync(values, 'utf8'), pin.version, pin.digest));
    const chart = join(copy, 'Chart.yaml');
    writeFileSync(chart, pinChartVersion(readFileSync(chart, 'utf8'), pin.version));
    const out = spawnSync(helm, ['package', copy, '--destination', outDir], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`helm package failed: ${out.stderr.trim()}`);
    const { name } = parse(readFileSync(chart, 'utf8')) as { name: string };
    return join(outDir, `${name}-${pin.version}.tgz`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
