/**
 * The man page `npm run build` writes from the help text (scripts/man-page.mjs): it exists, is
 * named by package.json and shipped, renders with man -l (or groff), and tells every option of
 * `nf-queue --help` and every subcommand. Run after `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../src/index.js';

const pagePath = fileURLToPath(new URL('../man/nf-queue.1', import.meta.url));
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { man?: string; files?: string[]; version: string };

const has = (command: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** The page as a reader sees it, plain ASCII, in one line of single spaces. */
function rendered(): string {
  const text = has('man')
    ? execFileSync('man', ['-l', pagePath], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', MANWIDTH: '100', LC_ALL: 'C' } })
    : execFileSync('groff', ['-man', '-Tascii', '-P-cbou', pagePath], { encoding: 'utf8' });
  return text.replace(/.\x08/g, '').replace(/\s+/g, ' ');
}

describe('man/nf-queue.1', () => {
  it('is built, named by package.json and in its files', () => {
    expect(existsSync(pagePath), 'run npm run build first').toBe(true);
    expect(packageJson.man).toBe('./man/nf-queue.1');
    expect(packageJson.files).toContain('man');
  });

  it('renders, titled with the version, and tells every option of --help and every subcommand', () => {
    const text = rendered();
    expect(text).toMatch(/^ ?NF-QUEUE\(1\) /);
    expect(text).toContain(`@nfq/cli ${packageJson.version}`);
    const options = new Set([...USAGE.matchAll(/(?<![\w-])(--?[a-z][\w-]*)/gi)].map((match) => match[1]!));
    for (const option of ['--verdict', '--json', '--pcap', '--rule', '--version', '-w', '-n', '-r', '-c']) expect(options).toContain(option);
    for (const option of options) expect(text, option).toMatch(new RegExp(`(?<![\\w-])${option}(?![\\w-])`));
    for (const command of ['stats', 'doctor', 'demo']) expect(text).toContain(`nf-queue ${command} [`.replace(' [', command === 'demo' ? '' : ' ['));
  });
});
