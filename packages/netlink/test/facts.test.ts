import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errnoName, hookName } from '../src/index.js';

const generator = fileURLToPath(new URL('../../../scripts/generate-facts.mjs', import.meta.url));
const facts = JSON.parse(readFileSync(new URL('../../../facts/nfqueue.json', import.meta.url), 'utf8')) as {
  errno: { names: Record<string, string> };
  hooks: { inet: string[]; families: Record<string, { hooks: string[] }> };
};

describe('the tables shared with nfq-core', () => {
  it('are what facts/nfqueue.json gives (run `npm run generate` after editing it)', () => {
    const check = spawnSync(process.execPath, [generator, '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('name every errno the table lists, and any other number E<number>', () => {
    const names = Object.entries(facts.errno.names);
    expect(names.length).toBeGreaterThan(100);
    for (const [number, name] of names) expect(errnoName(Number(number))).toBe(name);
    expect(errnoName(4095)).toBe('E4095');
  });

  it('name the hooks of each family, inet names for the others', () => {
    for (const [family, { hooks }] of Object.entries(facts.hooks.families)) {
      hooks.forEach((name, hook) => expect(hookName(Number(family), hook)).toBe(name));
      expect(hookName(Number(family), hooks.length)).toBeUndefined();
    }
    facts.hooks.inet.forEach((name, hook) => expect(hookName(2, hook)).toBe(name));
  });
});
