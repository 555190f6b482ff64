import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const entry = new URL('../../dist/index.js', import.meta.url).href;

/** Imports the built package in a Node whose `process.platform` says `platform`. */
async function importOn(platform: string): Promise<{ ok: boolean; output: string }> {
  const pretend = `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} });`;
  const script = `${pretend} try { const m = await import(${JSON.stringify(entry)}); console.log('imported', typeof m.openQueue); } catch (e) { console.log(e.code, e.message); }`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  return { ok: stdout.startsWith('imported'), output: stdout.trim() };
}

describe('the package on other platforms', () => {
  it('imports on Linux', async () => {
    expect(await importOn('linux')).toEqual({ ok: true, output: 'imported function' });
  });

  it('fails at import elsewhere, saying why and what to use instead', async () => {
    const { ok, output } = await importOn('darwin');
    expect(ok).toBe(false);
    expect(output).toBe(
      'ERR_NFQUEUE_UNSUPPORTED_PLATFORM @nfq/nfqueue works on Linux only: NFQUEUE is part of Linux\'s netfilter, and this is darwin. ' +
        'To decode or build nfnetlink_queue messages elsewhere, use @nfq/netlink, which has no native code.',
    );
  });
});
