/** A CycloneDX 1.5 JSON SBOM of an image: the npm packages bundled, the Node runtime, the system libraries copied in. */
import { createHash } from 'node:crypto';
import type { NpmComponent } from './bundled-packages.ts';
import type { SystemComponent } from './system-libs.ts';

/** What an image's SBOM says. */
export interface SbomInput {
  /** The image: repository (as images/ names it), tag (the release version), manifest digest. */
  image: { name: string; tag: string; digest: string };
  /** ISO 8601; the commit's time, so that the same commit gives the same SBOM. */
  timestamp: string;
  npm: NpmComponent[];
  /** The Node binary, and the npm package it came from. */
  runtime: { name: string; version: string; npmPackage: string; license?: string };
  system: SystemComponent[];
}

interface Component {
  type: 'application' | 'library' | 'file';
  'bom-ref': string;
  name: string;
  version?: string;
  purl?: string;
  licenses?: { expression: string }[];
  properties?: { name: string; value: string }[];
}

/** purl segments and versions: percent-encoded, as the purl spec asks. */
const encode = (text: string): string => encodeURIComponent(text);

/** pkg:npm/<name>@<version>, the scope's @ encoded. */
export function npmPurl(name: string, version: string): string {
  return `pkg:npm/${name.split('/').map(encode).join('/')}@${encode(version)}`;
}

/** pkg:deb/debian/<package>@<version>?arch=<arch>. */
export function debPurl(name: string, version: string, arch: string): string {
  return `pkg:deb/debian/${encode(name)}@${encode(version)}?arch=${encode(arch)}`;
}

/** pkg:oci/<last segment>@<digest>?repository_url=<repository>&tag=<tag>. */
function ociPurl(image: SbomInput['image']): string {
  const last = image.name.split('/').at(-1)!;
  const url = encode(image.name).replaceAll('%2F', '/');
  return `pkg:oci/${encode(last)}@${encode(image.digest)}?repository_url=${url}&tag=${encode(image.tag)}`;
}

const licenses = (license: string | undefined) =>
  license === undefined ? {} : { licenses: [{ expression: license }] };

function npmComponent(pkg: NpmComponent): Component {
  const purl = npmPurl(pkg.name, pkg.version);
  return {
    type: 'library',
    'bom-ref': purl,
    name: pkg.name,
    version: pkg.version,
    purl,
    ...licenses(pkg.license),
  };
}

/** One component per Debian package (its files as properties), one per file no package owns. */
function systemComponents(system: SystemComponent[]): Component[] {
  const byPackage = new Map<string, Component>();
  const loose: Component[] = [];
  for (const file of system) {
    const property = { name: 'genome-operator:file', value: file.path };
    if (file.debPackage === undefined || file.debVersion === undefined) {
      loose.push({
        type: 'file',
        'bom-ref': `file:${file.path}`,
        name: file.path,
        properties: [property],
      });
      continue;
    }
    const purl = debPurl(file.debPackage, file.debVersion, file.arch ?? 'amd64');
    const component = byPackage.get(purl) ?? {
      type: 'library',
      'bom-ref': purl,
      name: file.debPackage,
      version: file.debVersion,
      purl,
      properties: [],
    };
    component.properties!.push(property);
    byPackage.set(purl, component);
  }
  return [...byPackage.values(), ...loose];
}

/** A name-based UUID (version 5 layout) of the image, so that the same image gives the same serial number. */
function serialNumber(image: SbomInput['image']): string {
  const hex = createHash('sha1').update(`${image.name}:${image.tag}@${image.digest}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The CycloneDX 1.5 document (a JSON value) of one image. */
export function cycloneDx(input: SbomInput): object {
  const runtimePurl = npmPurl(input.runtime.npmPackage, input.runtime.version);
  const runtime: Component = {
    type: 'application',
    'bom-ref': runtimePurl,
    name: input.runtime.name,
    version: input.runtime.version,
    purl: runtimePurl,
    ...licenses(input.runtime.license),
    properties: [{ name: 'genome-operator:file', value: '/usr/local/bin/node' }],
  };
  const purl = ociPurl(input.image);
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: serialNumber(input.image),
    version: 1,
    metadata: {
      timestamp: input.timestamp,
      tools: { components: [{ type: 'application', name: 'genome-operator scripts/release.ts' }] },
      component: {
        type: 'container',
        'bom-ref': purl,
        name: input.image.name,
        version: input.image.tag,
        purl,
      },
    },
    components: [
      runtime,
      ...[...input.npm].sort((a, b) => (a.name < b.name ? -1 : 1)).map(npmComponent),
      ...systemComponents(input.system),
    ],
  };
}
