// The check main.ts runs before loading the command line: a Node.js older than package.json's
// `engines` gets one sentence (yargs would throw a stack trace), a new enough one nothing.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeVersionProblem } from '../src/node-version.js';
import { supportedNode } from '../src/package-paths.js';

describe('the Node.js version check', () => {
  it('reads the minimum from package.json', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(supportedNode()).toBe(manifest.engines.node);
    expect(nodeVersionProblem(process.versions.node, supportedNode())).toBeUndefined();
  });

  it('refuses an older Node.js in one sentence', () => {
    for (const old of ['18.20.8', 'v20.18.3', '20.9.0', '16.0.0']) {
      expect(nodeVersionProblem(old, '>=20.19')).toBe(`this is Node.js v${old.replace(/^v/, '')}, and nnfs needs 20.19 or newer.`);
    }
  });

  it('accepts the minimum and anything newer, part by part', () => {
    for (const ok of ['20.19.0', '20.19.5', '20.20.2', 'v22.1.0', '24.0.0', '100.0.0']) {
      expect(nodeVersionProblem(ok, '>=20.19')).toBeUndefined();
    }
    expect(nodeVersionProblem('20.19.0', '>=20.19.1')).toBe('this is Node.js v20.19.0, and nnfs needs 20.19.1 or newer.');
  });

  it('makes no check of a range it cannot read', () => {
    for (const engines of [undefined, '', '^20.19', '20.x', '>=20 <23']) expect(nodeVersionProblem('18.0.0', engines)).toBeUndefined();
  });
});
