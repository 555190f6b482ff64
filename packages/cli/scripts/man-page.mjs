#!/usr/bin/env node
// Writes man/nf-queue.1 (roff, man macros) from the help texts in dist/: `nf-queue --help`
// (its sections and options), then each subcommand's `--help`. Run by `npm run build`, after tsc.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const { USAGE } = await import(new URL('args.js', dist));
const subcommands = [
  ['stats', (await import(new URL('commands/stats.js', dist))).STATS_USAGE],
  ['doctor', (await import(new URL('commands/doctor.js', dist))).DOCTOR_USAGE],
  ['demo', (await import(new URL('commands/demo.js', dist))).DEMO_USAGE],
];
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** Text as roff reads it literally: backslashes and dashes escaped, no line taken for a request. */
const escape = (text) => text.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/, '\\&$1');

/** An option (or subcommand) line: two to six spaces, the option, two spaces or more, what it does; or an option alone. */
const OPTION = /^ {2,6}(\S(?:.*?\S)?) {2,}(\S.*)$|^ {2,6}(-\S(?:.*\S)?)$/;
/** A line that goes on with the text of the option above (indented deeper than options). */
const CONTINUATION = /^ {7,}\S/;

/** The roff for one help text's body: headings become .SS, options .TP, the rest paragraphs. */
function body(lines) {
  const out = [];
  let inOption = false;
  for (const line of lines) {
    if (line.trim() === '') {
      inOption = false;
      out.push('.PP');
    } else if (/^\S.*:$/.test(line)) {
      inOption = false;
      out.push(`.SS "${escape(line.slice(0, -1))}"`);
    } else if (inOption && CONTINUATION.test(line)) {
      out.push(escape(line.trim()));
    } else if (OPTION.test(line)) {
      const [, option, text, alone] = OPTION.exec(line);
      out.push('.TP', `.B ${escape(option ?? alone)}`);
      if (text) out.push(escape(text));
      inOption = true;
    } else {
      if (inOption) out.push('.PP');
      else if (line.startsWith(' ')) out.push('.br'); // an indented line (a command) keeps its own line
      inOption = false;
      out.push(escape(line.trim()));
    }
  }
  return out;
}

const [usageLines, ...rest] = USAGE.split('\n\n');
const page = [
  `.\\" Generated from nf-queue --help by scripts/man-page.mjs; do not edit.`,
  `.TH NF\\-QUEUE 1 "" "@nfq/cli ${version}" "User Commands"`,
  '.nh',
  '.ad l',
  '.SH NAME',
  'nf\\-queue \\- print NFQUEUE packets and give each a verdict',
  '.SH SYNOPSIS',
  ...usageLines.split('\n').flatMap((line) => [escape(line.replace(/^Usage: /, '').trim()), '.br']),
  '.SH DESCRIPTION',
  ...body(rest.join('\n\n').split('\n')),
  '.SH COMMANDS',
  ...subcommands.flatMap(([name, usage]) => {
    const [synopsis, ...text] = usage.split('\n');
    return [`.SS "nf\\-queue ${name}"`, escape(synopsis.replace(/^Usage: /, '')), '.PP', ...body(text)];
  }),
  '.SH SEE ALSO',
  'iptables\\-extensions(8) (NFQUEUE), tcpdump(8)',
  '',
];
mkdirSync(new URL('../man/', import.meta.url), { recursive: true });
writeFileSync(new URL('../man/nf-queue.1', import.meta.url), page.join('\n'));
