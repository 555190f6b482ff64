import { QUEUE_OPTION_LIMITS as LIMITS } from '@nfq/nfqueue';
import { describe, expect, it } from 'vitest';
import { type CliOptions, USAGE, parseCommandLine, queueOptionsOf, splitRule } from '../src/index.js';

const defaults: CliOptions = {
  queue: 0,
  queueBalance: undefined,
  count: undefined,
  quiet: false,
  json: false,
  pcap: undefined,
  verdict: 'accept',
  mark: undefined,
  connmark: undefined,
  handler: undefined,
  copyMode: 'packet',
  copyRange: undefined,
  maxLen: undefined,
  failOpen: false,
  gso: true,
  receiveBufferSize: undefined,
  noEnobufs: false,
  readerThread: false,
  nice: undefined,
  cpus: undefined,
  netns: undefined,
  user: undefined,
  rule: undefined,
  metrics: undefined,
};

describe('parseCommandLine', () => {
  it('defaults to queue 0, accept, copy mode packet, GSO on, nothing else', () => {
    expect(parseCommandLine([])).toEqual({ kind: 'run', options: defaults });
  });

  it('reads the original options, long and short', () => {
    expect(parseCommandLine(['--count', '10', '--quiet', '--netns', 'lab', '7'])).toEqual({
      kind: 'run',
      options: { ...defaults, queue: 7, count: 10, quiet: true, netns: 'lab' },
    });
    expect(parseCommandLine(['-c', '1', '-q', '--netns', '/run/netns/x', '65535'])).toEqual({
      kind: 'run',
      options: { ...defaults, queue: 65535, count: 1, quiet: true, netns: '/run/netns/x' },
    });
    expect(parseCommandLine(['--count=3'])).toMatchObject({ kind: 'run', options: { count: 3 } });
  });

  it('reads every tool option', () => {
    const argv = [
      '--verdict', 'accept', '--mark', '0x2a', '--connmark', '7', '--json', '--pcap', 'out.pcap',
      '--copy-mode', 'meta', '--copy-range', '128', '--maxlen', '4096', '--fail-open', '--no-gso',
      '--rcvbuf', '8M', '--no-enobufs', '--reader-thread', '--user', 'nobody', '--rule', "OUTPUT -p udp -m comment --comment 'two words'", '12',
    ];
    expect(parseCommandLine(argv)).toEqual({
      kind: 'run',
      options: {
        ...defaults,
        queue: 12,
        mark: 42,
        connmark: 7,
        json: true,
        pcap: 'out.pcap',
        copyMode: 'meta',
        copyRange: 128,
        maxLen: 4096,
        failOpen: true,
        gso: false,
        receiveBufferSize: 8 * 1024 * 1024,
        noEnobufs: true,
        readerThread: true,
        user: 'nobody',
        rule: ['OUTPUT', '-p', 'udp', '-m', 'comment', '--comment', 'two words'],
      },
    });
    expect(parseCommandLine(['--verdict', 'drop', '-w', 'x.pcap', '-j', '--gso'])).toMatchObject({
      kind: 'run',
      options: { verdict: 'drop', pcap: 'x.pcap', json: true, gso: true },
    });
    expect(parseCommandLine(['--queue-balance', '3:4', '--rcvbuf', '65536'])).toMatchObject({
      kind: 'run',
      options: { queue: 3, queueBalance: { from: 3, to: 4 }, receiveBufferSize: 65536 },
    });
    expect(parseCommandLine(['--copy-range', '0', '--copy-range', '65535'])).toMatchObject({ options: { copyRange: 65535 } });
    expect(parseCommandLine(['--queue-balance', '1:2', '--user', 'nobody'])).toMatchObject({
      kind: 'run',
      options: { queueBalance: { from: 1, to: 2 }, user: 'nobody' },
    });
  });

  it('asks for help', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['-h', '3'])).toEqual({ kind: 'help' });
  });

  it('asks for the version', () => {
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
    expect(parseCommandLine(['--version', '3'])).toEqual({ kind: 'version' });
  });

  it('reads short options as tcpdump does: -w writes a file, -c counts, -n changes nothing, -r is refused', () => {
    expect(parseCommandLine(['-n', '-c', '2', '-w', 'out.pcap', '4'])).toEqual({
      kind: 'run',
      options: { ...defaults, queue: 4, count: 2, pcap: 'out.pcap' },
    });
    expect(parseCommandLine(['-r', 'in.pcap'])).toEqual({
      kind: 'error',
      message: 'nf-queue captures live and reads no files (tcpdump -r); write one with -w FILE, add a rule with --rule',
    });
    // -n takes no value any more: a namespace after it is a second QUEUE argument.
    expect(parseCommandLine(['-n', 'lab', '3'])).toMatchObject({ kind: 'error', message: expect.stringMatching(/at most one QUEUE|QUEUE must be/) });
  });

  it('lists the subcommands in USAGE', () => {
    for (const command of ['stats', 'doctor', 'demo']) expect(USAGE).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('documents every option in USAGE', () => {
    for (const option of [
      '--verdict', '--mark', '--connmark', '--count', '--quiet', '--json', '--pcap', '--copy-mode', '--copy-range',
      '--maxlen', '--fail-open', '--gso', '--no-gso', '--rcvbuf', '--queue-balance', '--netns', '--user', '--rule', '--help', '--version',
    ]) {
      expect(USAGE).toContain(option);
    }
  });

  it.each([
    [['--bogus'], /^Unknown option '--bogus'$/],
    [['x'], /QUEUE must be a whole number, got 'x'/],
    [['-1'], /Unknown option '-1'/],
    [[String(LIMITS.queue.max + 1)], new RegExp(`QUEUE must be from ${LIMITS.queue.min} to ${LIMITS.queue.max}, got ${LIMITS.queue.max + 1}`)],
    [['1', '2'], /at most one QUEUE/],
    [['--count', '0'], /--count must be from 1/],
    [['--count', '2.5'], /--count must be a whole number/],
    [['--count'], /argument missing/],
    [['--netns', ''], /--netns needs/],
    [['--copy-range', String(LIMITS.copyRange.max + 1)], new RegExp(`--copy-range must be from 0 to ${LIMITS.copyRange.max}, got ${LIMITS.copyRange.max + 1}`)],
    [['--copy-range', 'all'], /--copy-range must be a whole number, got 'all'/],
    [['--copy-mode', 'full'], /--copy-mode must be meta or packet, got 'full'/],
    [['--copy-mode', 'none'], /--copy-mode none makes the kernel queue nothing and drop every matched packet; use --copy-mode meta/],
    [['--maxlen', '0'], /--maxlen must be from 1/],
    [['--mark', '4294967296'], /--mark must be from 0 to 4294967295/],
    [['--mark', '-3'], /^--mark needs a value; for one that starts with a dash write --mark=VALUE$/],
    [['--mark=-3'], /--mark must be a whole number, got '-3'/],
    [['--connmark', 'ten'], /--connmark must be a whole number, got 'ten'/],
    [['--rcvbuf', '2K2'], /--rcvbuf must be a whole number/],
    [['--rcvbuf', String(LIMITS.receiveBufferSize.max + 1)], new RegExp(`--rcvbuf must be from 1 to ${LIMITS.receiveBufferSize.max}`)],
    [['--verdict', 'reject'], /--verdict must be accept or drop, got 'reject'/],
    [['--verdict', 'drop', '--mark', '1'], /--mark and --connmark go with --verdict accept/],
    [['--queue-balance', '4:3'], /--queue-balance starts after it ends \(4 > 3\)/],
    [['--queue-balance', '4'], /--queue-balance must be FROM:TO/],
    [['--queue-balance', `1:${LIMITS.queue.max + 1}`], new RegExp(`--queue-balance end must be from 0 to ${LIMITS.queue.max}`)],
    [['--queue-balance', '1:2', '5'], /either a QUEUE or --queue-balance/],
    [['--json', '--quiet'], /--json prints every packet and --quiet prints none/],
    [['--gso', '--no-gso'], /--gso and --no-gso contradict/],
    [['--rule=-p udp'], /--rule must start with a chain/],
    [['--rule', 'OUTPUT -j ACCEPT'], /nf-queue adds the NFQUEUE target itself \(remove '-j'\)/],
    [['--rule', "OUTPUT -m comment --comment 'open"], /unclosed ' quote/],
    [['--user', ''], /--user needs a user name/],
    [['--pcap', ''], /--pcap needs a file name/],
    [['--fail-open=yes'], /does not take an argument/],
  ])('refuses %j with one line', (argv, message) => {
    const parsed = parseCommandLine(argv);
    expect(parsed.kind).toBe('error');
    const text = (parsed as { message: string }).message;
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });
});

describe('splitRule', () => {
  it('splits on whitespace and keeps quoted words whole', () => {
    expect(splitRule('  OUTPUT   -p udp\t--dport 53 ')).toEqual(['OUTPUT', '-p', 'udp', '--dport', '53']);
    expect(splitRule(`INPUT -m comment --comment "a b" --x ''`)).toEqual(['INPUT', '-m', 'comment', '--comment', 'a b', '--x', '']);
  });
});

describe('--nice and --cpu', () => {
  it('parse a nice value and a CPU list into the reader thread options', () => {
    const parsed = parseCommandLine(['--nice=-5', '--cpu', '0,2-3', '7']);
    expect(parsed).toMatchObject({ kind: 'run', options: { queue: 7, nice: -5, cpus: [0, 2, 3] } });
    if (parsed.kind === 'run') expect(queueOptionsOf(parsed.options)).toMatchObject({ readerNice: -5, readerCpus: [0, 2, 3] });
  });

  it('refuse values out of range or malformed with one line', () => {
    for (const [args, text] of [
      [['--nice', '20'], '--nice must be from -20 to 19'],
      [['--nice', 'low'], '--nice must be a whole number'],
      [['--cpu', '3-1'], "--cpu range '3-1' must go up"],
      [['--cpu', 'a'], '--cpu takes CPU numbers'],
    ] as const) {
      const parsed = parseCommandLine([...args]);
      expect(parsed.kind).toBe('error');
      expect(parsed.kind === 'error' && parsed.message).toContain(text);
    }
  });
});

describe('--metrics', () => {
  it('takes an IPv4 address, an IPv6 address in brackets or a host name, and a port', () => {
    const metrics = (text: string) => {
      const parsed = parseCommandLine(['--metrics', text]);
      return parsed.kind === 'run' ? parsed.options.metrics : parsed;
    };
    expect(metrics('127.0.0.1:9400')).toEqual({ host: '127.0.0.1', port: 9400 });
    expect(metrics('[::1]:9400')).toEqual({ host: '::1', port: 9400 });
    expect(metrics('localhost:65535')).toEqual({ host: 'localhost', port: 65535 });
  });

  it('refuses a bad HOST:PORT with one line', () => {
    for (const text of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', '999.1.1.1:80', '::1:80', '[127.0.0.1]:80', ':9400', 'a b:1', '']) {
      const parsed = parseCommandLine(['--metrics', text]);
      expect(parsed.kind, text).toBe('error');
      if (parsed.kind === 'error') expect(parsed.message).toContain('--metrics must be HOST:PORT');
    }
  });

  it('is in the help', () => {
    expect(USAGE).toContain('--metrics HOST:PORT');
  });
});

describe('--handler', () => {
  it('takes the policy file; --verdict becomes the default verdict the queue gives on handler errors', () => {
    const parsed = parseCommandLine(['--handler', './policy.mjs', '--verdict', 'drop', '3']);
    expect(parsed).toEqual({ kind: 'run', options: { ...defaults, queue: 3, handler: './policy.mjs', verdict: 'drop' } });
    expect(queueOptionsOf((parsed as { options: CliOptions }).options).defaultVerdict).toBe('drop');
    expect(queueOptionsOf(defaults).defaultVerdict).toBeUndefined(); // without a policy: unchanged
  });

  it('refuses an empty file name, and --mark or --connmark (the policy returns its marks)', () => {
    expect(parseCommandLine(['--handler', ''])).toMatchObject({ kind: 'error', message: '--handler needs a policy module file' });
    expect(parseCommandLine(['--handler', 'p.mjs', '--mark', '1'])).toMatchObject({ kind: 'error', message: expect.stringMatching(/^--mark and --connmark go with the fixed verdict/) });
    expect(parseCommandLine(['--handler', 'p.mjs', '--connmark', '1'])).toMatchObject({ kind: 'error' });
  });

  it('is in the help, with SIGHUP', () => {
    expect(USAGE).toMatch(/--handler FILE/);
    expect(USAGE).toMatch(/SIGHUP\s+reloads FILE/);
  });
});
