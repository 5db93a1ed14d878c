import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSection, replaceBetweenMarkers } from '../../bin/commands/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('has the config table generated from the schemas (run `npm run docs` when this fails)', () => {
    expect(readme).toBe(replaceBetweenMarkers(readme, configSection()));
  });

  it('quick start is exactly two command lines: install+start and test', () => {
    const quick = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Architecture'));
    const commands = [...quick.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
    expect(commands).toEqual(['npm install && npm start', 'npm test']);
  });

  it('documents every service command', () => {
    for (const cmd of ['wattproof gateway', 'wattproof ingest', 'wattproof api', 'wattproof simulate', 'wattproof start', 'device add']) expect(readme).toContain(cmd);
  });
});
