import { describe, expect, it } from 'vitest';
import { DockerfileError, parseDockerfile } from './dockerfile.ts';

describe('parseDockerfile', () => {
  it('reads a multi-stage file of the subset, with continued lines and comments', () => {
    const stages = parseDockerfile(
      [
        '# runtime base',
        'FROM scratch AS runtime',
        'COPY node /usr/local/bin/node',
        'ENV PATH=/usr/local/bin \\',
        '    NODE_ENV="production"',
        'FROM runtime',
        'COPY --from=runtime --chown=1000:1000 --chmod=0755 /usr/local/bin/node /app/',
        'WORKDIR /app',
        'USER 1000',
        'EXPOSE 8443',
        'ENTRYPOINT ["/usr/local/bin/node", "main.js"]',
      ].join('\n'),
    );
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatchObject({ name: 'runtime', base: 'scratch' });
    expect(stages[0]!.instructions[1]).toMatchObject({
      kind: 'ENV',
      pairs: [
        ['PATH', '/usr/local/bin'],
        ['NODE_ENV', 'production'],
      ],
    });
    expect(stages[1]).toMatchObject({ base: { stage: 0 } });
    expect(stages[1]!.instructions[0]).toMatchObject({
      kind: 'COPY',
      from: 'runtime',
      chown: { uid: 1000, gid: 1000 },
      chmod: 0o755,
      sources: ['/usr/local/bin/node'],
      dest: '/app/',
    });
    expect(stages[1]!.instructions.at(-1)).toMatchObject({
      kind: 'ENTRYPOINT',
      argv: ['/usr/local/bin/node', 'main.js'],
    });
  });

  it.each([
    [
      'RUN, naming the line and prepare.sh',
      'FROM scratch\nRUN make',
      /line 2: RUN is not supported.*prepare\.sh/,
    ],
    [
      'a base from a registry',
      'FROM node:24',
      /line 1: FROM node:24: only scratch or an earlier stage/,
    ],
    ['a shell-form ENTRYPOINT', 'FROM scratch\nENTRYPOINT /pause', /exec form/],
    ['a user name in --chown', 'FROM scratch\nCOPY --chown=app a /a', /numeric ids/],
    ['wildcards', 'FROM scratch\nCOPY *.js /app/', /wildcards/],
    ['an instruction before FROM', 'COPY a /a', /before the first FROM/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseDockerfile(text)).toThrow(DockerfileError);
    expect(() => parseDockerfile(text)).toThrow(message);
  });
});
