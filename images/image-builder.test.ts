import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage } from './image-builder.ts';

const work = mkdtempSync(join(tmpdir(), 'image-builder-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function context(): string {
  const dir = join(work, 'context');
  mkdirSync(join(dir, 'app', 'lib'), { recursive: true });
  writeFileSync(join(dir, 'app', 'main.js'), 'console.log("hi")\n');
  writeFileSync(join(dir, 'app', 'lib', `${'long-name-'.repeat(12)}.js`), 'x\n');
  symlinkSync('main.js', join(dir, 'app', 'index.js'));
  writeFileSync(join(dir, 'tool'), '#!/bin/true\n', { mode: 0o755 });
  return dir;
}

const DOCKERFILE = [
  'FROM scratch AS base',
  'COPY tool /usr/bin/tool',
  'FROM scratch',
  'COPY --from=base /usr/bin/tool /bin/',
  'COPY --chown=1000:2000 app /srv/app',
  'WORKDIR /srv/app',
  'ENV MODE=test',
  'USER 1000',
  'ENTRYPOINT ["/bin/tool"]',
  'CMD ["serve"]',
].join('\n');

const tarList = (file: string) => execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });

describe('buildImage', () => {
  it('writes an OCI layout archive that names the image, with one layer per COPY', async () => {
    const contextDir = context();
    const outPath = join(work, 'image.tar');
    const built = await buildImage({
      dockerfile: DOCKERFILE,
      contextDir,
      name: 'genome.local/t:v1',
      outPath,
    });
    const layout = join(work, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', outPath, '-C', layout]);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe('genome.local/t:v1');
    expect(index.manifests[0].digest).toBe(built.manifestDigest);
    const blob = (digest: string) => join(layout, 'blobs', 'sha256', digest.replace('sha256:', ''));
    const manifest = JSON.parse(readFileSync(blob(built.manifestDigest), 'utf8'));
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
    expect(config.config).toMatchObject({
      Env: ['MODE=test'],
      User: '1000',
      WorkingDir: '/srv/app',
      Entrypoint: ['/bin/tool'],
      Cmd: ['serve'],
    });
    expect(manifest.layers).toHaveLength(2);
    const [tool, app] = manifest.layers.map((l: { digest: string }) => tarList(blob(l.digest)));
    expect(tool).toMatch(/-rwxr-xr-x 0\/0 .* bin\/tool/);
    expect(app).toMatch(/1000\/2000 .* srv\/app\/main\.js/);
    expect(app).toMatch(/srv\/app\/index\.js -> main\.js/);
    expect(app).toContain(`srv/app/lib/${'long-name-'.repeat(12)}.js`);
  });

  it('gives the same digest for the same inputs', async () => {
    const again = async (out: string) =>
      (
        await buildImage({
          dockerfile: DOCKERFILE,
          contextDir: join(work, 'context'),
          name: 'genome.local/t:v1',
          outPath: join(work, out),
        })
      ).manifestDigest;
    expect(await again('a.tar')).toBe(await again('b.tar'));
  });

  it('copies a folder onto / without a layer entry for / itself (no absolute member names)', async () => {
    const outPath = join(work, 'rootfs.tar');
    const built = await buildImage({
      dockerfile: 'FROM scratch\nCOPY app/ /\n',
      contextDir: join(work, 'context'),
      name: 'genome.local/r:v1',
      outPath,
    });
    const layout = join(work, 'rootfs-layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', outPath, '-C', layout]);
    const blob = (digest: string) => join(layout, 'blobs', 'sha256', digest.replace('sha256:', ''));
    const manifest = JSON.parse(readFileSync(blob(built.manifestDigest), 'utf8'));
    const names = execFileSync('tar', ['-tf', blob(manifest.layers[0].digest)], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    expect(names).toContain('main.js');
    expect(names).toContain('lib/');
    expect(names.filter((n) => n.startsWith('/'))).toEqual([]);
  });
});
