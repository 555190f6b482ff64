import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { platformPackageName } from '../../src/native.js';

describe('platformPackageName', () => {
  it('names the platform package of this machine as napi create-npm-dirs does', () => {
    // This machine: x64 Linux with glibc, the package that npm/linux-x64-gnu holds.
    expect(platformPackageName()).toBe(`@nfq/nfqueue-linux-${process.arch}-gnu`);
    const made = JSON.parse(readFileSync(new URL('../../npm/linux-x64-gnu/package.json', import.meta.url), 'utf8')) as { name: string };
    if (process.arch === 'x64') expect(platformPackageName()).toBe(made.name);
  });
});
