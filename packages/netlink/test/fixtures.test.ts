/**
 * Reads every wire fixture in `fixtures/` (the truth shared with nfq-core's `cargo test`) and
 * checks that this codec agrees with it: decode fixtures field for field, build fixtures byte for
 * byte. The format is described in `fixtures/README.md`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  NFQNL_CFG_CMD_BIND,
  NFQNL_CFG_CMD_PF_BIND,
  NFQNL_CFG_CMD_PF_UNBIND,
  NFQNL_CFG_CMD_UNBIND,
  NFQNL_COPY_META,
  NFQNL_COPY_NONE,
  NFQNL_COPY_PACKET,
  type ConfigOptions,
  buildConfig,
  buildVerdict,
  buildVerdictBatch,
} from '../src/index.js';
import { type DecodeShape, decodeShape, fromHex, hex } from './shape.js';

/** The bytes of an optional hex field. */
const optionalHex = (text: string | undefined): Uint8Array | undefined => (text === undefined ? undefined : fromHex(text));

const FIXTURES_DIRECTORY = new URL('../../../fixtures/', import.meta.url);
/** The fixture set must not shrink below this (both codecs are held to at least 12 files). */
const MINIMUM_FIXTURE_COUNT = 12;

interface DecodeFixture {
  description: string;
  source: 'kernel' | 'hand';
  decode: { as?: 'batch' | 'packet'; hex: string; expect: DecodeShape };
}

interface BuildFixture {
  description: string;
  source: 'kernel' | 'hand';
  build: { message: 'verdict' | 'verdictBatch' | 'config'; input: Record<string, unknown>; hex: string };
}

type Fixture = DecodeFixture | BuildFixture;

const fixtureFiles = readdirSync(FIXTURES_DIRECTORY)
  .filter((name) => name.endsWith('.json'))
  .sort();

function readFixture(name: string): Fixture {
  return JSON.parse(readFileSync(new URL(name, FIXTURES_DIRECTORY), 'utf8')) as Fixture;
}

/** Takes the keys of `input` one by one, so that a key the test does not know fails the test. */
class InputReader {
  readonly #input: Record<string, unknown>;
  readonly #unread: Set<string>;

  constructor(input: Record<string, unknown>) {
    this.#input = input;
    this.#unread = new Set(Object.keys(input));
  }

  number(key: string): number {
    const value = this.optionalNumber(key);
    if (value === undefined) throw new Error(`input.${key} is required`);
    return value;
  }

  optionalNumber(key: string): number | undefined {
    this.#unread.delete(key);
    const value = this.#input[key];
    if (value !== undefined && typeof value !== 'number') throw new Error(`input.${key} must be a number`);
    return value;
  }

  optionalString(key: string): string | undefined {
    this.#unread.delete(key);
    const value = this.#input[key];
    if (value !== undefined && typeof value !== 'string') throw new Error(`input.${key} must be a string`);
    return value;
  }

  /** Fails if any key was not read. */
  done(): void {
    if (this.#unread.size > 0) throw new Error(`input keys this test does not understand: ${[...this.#unread].join(', ')}`);
  }
}

const COMMANDS: Readonly<Record<string, number>> = {
  bind: NFQNL_CFG_CMD_BIND,
  unbind: NFQNL_CFG_CMD_UNBIND,
  pfBind: NFQNL_CFG_CMD_PF_BIND,
  pfUnbind: NFQNL_CFG_CMD_PF_UNBIND,
};

const COPY_MODES: Readonly<Record<string, number>> = {
  none: NFQNL_COPY_NONE,
  meta: NFQNL_COPY_META,
  packet: NFQNL_COPY_PACKET,
};

/** Builds a build fixture's `input` with this package's builders. */
function build(fixture: BuildFixture['build']): Uint8Array {
  const input = new InputReader(fixture.input);
  let bytes: Uint8Array;
  if (fixture.message === 'verdict') {
    const payload = input.optionalString('payload');
    bytes = buildVerdict({
      queue: input.number('queue'),
      id: input.number('id'),
      verdict: input.number('verdict'),
      mark: input.optionalNumber('mark'),
      payload: payload === undefined ? undefined : fromHex(payload),
      connmark: input.optionalNumber('connmark'),
      connlabels: optionalHex(input.optionalString('connlabels')),
      connlabelsMask: optionalHex(input.optionalString('connlabelsMask')),
    });
  } else if (fixture.message === 'verdictBatch') {
    bytes = buildVerdictBatch({
      queue: input.number('queue'),
      id: input.number('id'),
      verdict: input.number('verdict'),
      mark: input.optionalNumber('mark'),
    });
  } else if (fixture.message === 'config') {
    const command = input.optionalString('command');
    const pf = input.optionalNumber('pf');
    const copyMode = input.optionalString('copyMode');
    const copyRange = input.optionalNumber('copyRange');
    const maxLen = input.optionalNumber('maxLen');
    const flags = input.optionalNumber('flags');
    const mask = input.optionalNumber('mask');
    const parts = [command, copyMode, maxLen, flags].filter((part) => part !== undefined);
    expect(parts, 'a config fixture holds exactly one of command, copyMode, maxLen, flags').toHaveLength(1);
    const options: ConfigOptions = {
      queue: input.number('queue'),
      seq: input.number('seq'),
      ack: true,
      command: command === undefined ? undefined : { command: lookUp(COMMANDS, command), pf },
      params:
        copyMode === undefined ? undefined : { copyMode: lookUp(COPY_MODES, copyMode), copyRange: copyRange ?? 0 },
      maxLen,
      flags: flags === undefined ? undefined : { flags, mask: mask ?? 0 },
    };
    bytes = buildConfig(options);
  } else {
    throw new Error(`unknown build message kind ${String(fixture.message)}`);
  }
  input.done();
  return bytes;
}

function lookUp(table: Readonly<Record<string, number>>, key: string): number {
  const value = table[key];
  if (value === undefined) throw new Error(`unknown value ${key}; expected one of ${Object.keys(table).join(', ')}`);
  return value;
}

describe('wire fixtures', () => {
  it(`has at least ${MINIMUM_FIXTURE_COUNT} fixtures`, () => {
    expect(fixtureFiles.length).toBeGreaterThanOrEqual(MINIMUM_FIXTURE_COUNT);
  });

  it('has both decode and build fixtures, some recorded from the kernel', () => {
    const fixtures = fixtureFiles.map(readFixture);
    expect(fixtures.some((fixture) => 'decode' in fixture)).toBe(true);
    expect(fixtures.some((fixture) => 'build' in fixture)).toBe(true);
    expect(fixtures.some((fixture) => fixture.source === 'kernel')).toBe(true);
  });

  for (const name of fixtureFiles) {
    const fixture = readFixture(name);
    it(`${name}: ${fixture.description}`, () => {
      expect(['kernel', 'hand']).toContain(fixture.source);
      if ('decode' in fixture) {
        const as = fixture.decode.as ?? 'batch';
        expect(['batch', 'packet']).toContain(as);
        // toStrictEqual: a key the fixture leaves out must be absent here too, not undefined.
        expect(decodeShape(fromHex(fixture.decode.hex), as)).toStrictEqual(fixture.decode.expect);
      } else if ('build' in fixture) {
        expect(hex(build(fixture.build))).toBe(fixture.build.hex);
      } else {
        throw new Error('a fixture holds either "decode" or "build"');
      }
    });
  }
});
