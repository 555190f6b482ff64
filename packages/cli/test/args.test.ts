import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/index.js';

describe('parseCommandLine', () => {
  it('defaults to queue 0, no count, not quiet, no namespace', () => {
    expect(parseCommandLine([])).toEqual({
      kind: 'run',
      options: { queue: 0, count: undefined, quiet: false, netns: undefined },
    });
  });

  it('reads every option, long and short', () => {
    expect(parseCommandLine(['--count', '10', '--quiet', '--netns', 'lab', '7'])).toEqual({
      kind: 'run',
      options: { queue: 7, count: 10, quiet: true, netns: 'lab' },
    });
    expect(parseCommandLine(['-c', '1', '-q', '-n', '/run/netns/x', '65535'])).toEqual({
      kind: 'run',
      options: { queue: 65535, count: 1, quiet: true, netns: '/run/netns/x' },
    });
    expect(parseCommandLine(['--count=3'])).toMatchObject({ kind: 'run', options: { count: 3 } });
  });

  it('asks for help', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['-h', '3'])).toEqual({ kind: 'help' });
  });

  it.each([
    [['--bogus'], /^Unknown option '--bogus'$/],
    [['x'], /QUEUE must be a whole number, got 'x'/],
    [['-1'], /Unknown option '-1'/],
    [['65536'], /QUEUE must be from 0 to 65535, got 65536/],
    [['1', '2'], /at most one QUEUE/],
    [['--count', '0'], /--count must be from 1/],
    [['--count', '2.5'], /--count must be a whole number/],
    [['--count'], /argument missing/],
    [['--netns', ''], /--netns needs/],
  ])('refuses %j with one line', (argv, message) => {
    const parsed = parseCommandLine(argv);
    expect(parsed.kind).toBe('error');
    const text = (parsed as { message: string }).message;
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });
});
