/** The policy contract of `--handler`: what each return value becomes, and loading a module. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Packet } from '@nfq/nfqueue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Policy, PolicyLoadError, PolicyResultError, applyPolicy, giveReturnedVerdict, loadPolicy } from '../src/policy.js';

/** A packet that records the verdict method called and its argument. */
function fakePacket(): Packet & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  let hasVerdict = false;
  const record = (name: string) => (...args: unknown[]) => {
    calls.push([name, ...args]);
    hasVerdict = true;
  };
  return {
    calls,
    get hasVerdict() {
      return hasVerdict;
    },
    accept: record('accept'),
    drop: record('drop'),
    repeat: record('repeat'),
    stop: record('stop'),
    queue: record('queue'),
  } as unknown as Packet & { calls: unknown[][] };
}

const verdictOf = (result: unknown): unknown[] => {
  const packet = fakePacket();
  giveReturnedVerdict(packet, result);
  expect(packet.calls).toHaveLength(1);
  return packet.calls[0]!;
};

describe('giveReturnedVerdict', () => {
  it('maps the verdict words to the packet methods, without changes', () => {
    expect(verdictOf('accept')).toEqual(['accept']);
    expect(verdictOf('drop')).toEqual(['drop']);
    expect(verdictOf('repeat')).toEqual(['repeat']);
    expect(verdictOf('stop')).toEqual(['stop']);
  });

  it('maps the verdict objects, passing their changes as they are', () => {
    const changes = { mark: 7, connmark: 9 };
    expect(verdictOf({ accept: changes })[1]).toBe(changes);
    expect(verdictOf({ accept: {} })).toEqual(['accept', {}]);
    expect(verdictOf({ repeat: { mark: 1 } })).toEqual(['repeat', { mark: 1 }]);
    expect(verdictOf({ stop: { mark: 2 } })).toEqual(['stop', { mark: 2 }]);
    expect(verdictOf({ drop: {} })).toEqual(['drop']);
    expect(verdictOf({ queue: 5 })).toEqual(['queue', 5, undefined]);
    expect(verdictOf({ queue: 5, bypass: true })).toEqual(['queue', 5, { bypass: true }]);
    expect(verdictOf({ queue: 5, bypass: false })).toEqual(['queue', 5, undefined]);
  });

  it('takes nothing when the handler gave the verdict itself', () => {
    const packet = fakePacket();
    packet.drop();
    giveReturnedVerdict(packet, undefined);
    expect(packet.calls).toEqual([['drop']]);
  });

  it.each([
    ['nothing, and no verdict given', undefined, /returned nothing and gave the packet no verdict/],
    ['an unknown word', 'allow', /returned 'allow', which is not a verdict/],
    ['a number', 1, /returned 1, which is not a verdict/],
    ['null', null, /returned null/],
    ['an array', ['accept'], /returned \["accept"\]/],
    ['true', true, /returned true/],
    ['an empty object', {}, /returned \{\}/],
    ['two verdicts', { accept: {}, drop: {} }, /both accept and drop/],
    ['an unknown key', { accept: {}, mark: 1 }, /unknown key mark/],
    ['changes that are not an object', { accept: 7 }, /returned \{"accept":7\}/],
    ['a drop with changes', { drop: { mark: 1 } }, /a dropped packet takes no changes/],
    ['bypass without queue', { accept: {}, bypass: true }, /bypass goes with queue/],
    ['a bypass that is not boolean', { queue: 1, bypass: 'yes' }, /bypass must be true or false/],
  ])('refuses %s with PolicyResultError, giving no verdict', (_, result, message) => {
    const packet = fakePacket();
    expect(() => giveReturnedVerdict(packet, result)).toThrow(PolicyResultError);
    expect(() => giveReturnedVerdict(packet, result)).toThrow(message);
    expect(packet.calls).toEqual([]);
  });
});

describe('applyPolicy', () => {
  it('gives a sync verdict at once and returns undefined; throws what the handler throws', () => {
    const packet = fakePacket();
    expect(applyPolicy(() => 'drop', packet)).toBeUndefined();
    expect(packet.calls).toEqual([['drop']]);
    const failure = new Error('bug');
    expect(() =>
      applyPolicy(() => {
        throw failure;
      }, fakePacket()),
    ).toThrow(failure);
  });

  it('gives an async verdict when it resolves; rejects on a rejection or a bad value', async () => {
    const packet = fakePacket();
    const pending = applyPolicy(async () => ({ accept: { mark: 3 } }), packet);
    expect(packet.calls).toEqual([]);
    await pending;
    expect(packet.calls).toEqual([['accept', { mark: 3 }]]);
    await expect(applyPolicy(async () => Promise.reject(new Error('later')), fakePacket())).rejects.toThrow('later');
    await expect(applyPolicy(async () => 'maybe', fakePacket())).rejects.toThrow(PolicyResultError);
  });
});

describe('loadPolicy and Policy.reload', () => {
  let directory: string;
  beforeAll(async () => void (directory = await mkdtemp(join(tmpdir(), 'nfq-policy-'))));
  afterAll(() => rm(directory, { recursive: true, force: true }));
  const context = { queue: 2, queueBalance: undefined, defaultVerdict: 'accept', netns: undefined } as const;

  it('awaits setup(context), then reload imports a fresh copy and runs setup again; a failed reload keeps the handler', async () => {
    const file = join(directory, 'p.mjs');
    await writeFile(file, "export let seen; export async function setup(c) { globalThis.policySeen = c; } export default () => 'accept';");
    const policy = await Policy.load(pathToFileURL(file).href, 'p.mjs', context);
    expect((globalThis as { policySeen?: unknown }).policySeen).toEqual({ ...context, reload: 0 });
    expect(policy.handler(fakePacket())).toBe('accept');
    await writeFile(file, "export function setup(c) { globalThis.policySeen = c; } export default () => 'drop';");
    await policy.reload();
    expect((globalThis as { policySeen?: unknown }).policySeen).toEqual({ ...context, reload: 1 });
    expect(policy.handler(fakePacket())).toBe('drop');
    await writeFile(file, "export function setup() { throw new Error('no config'); } export default () => 'accept';");
    await expect(policy.reload()).rejects.toThrow('the policy p.mjs failed in setup(context): no config');
    expect(policy.handler(fakePacket())).toBe('drop');
  });

  it('names the file and the reason when it cannot be used', async () => {
    const url = (name: string): string => pathToFileURL(join(directory, name)).href;
    await writeFile(join(directory, 'no-default.mjs'), 'export const x = 1;');
    await writeFile(join(directory, 'bad-setup.mjs'), 'export const setup = 3; export default () => "accept";');
    await expect(loadPolicy(url('none.mjs'), 'none.mjs', { ...context, reload: 0 })).rejects.toThrow(/^the policy none\.mjs could not be loaded: /);
    await expect(loadPolicy(url('no-default.mjs'), 'no-default.mjs', { ...context, reload: 0 })).rejects.toThrow(
      'the policy no-default.mjs has no default export function (packet) => verdict (its default export is missing)',
    );
    await expect(loadPolicy(url('bad-setup.mjs'), 'bad-setup.mjs', { ...context, reload: 0 })).rejects.toThrow(PolicyLoadError);
  });
});
