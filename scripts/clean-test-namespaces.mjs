#!/usr/bin/env node
// Deletes the network namespaces that kernel tests of an earlier run left behind: those named
// nfqt-[kind-]<pid>-<hex> whose test process no longer runs (a run killed outright, e.g. by
// turbo stopping the other tasks after one failed, never reaches its clean-up). Their processes
// are killed first. Namespaces of a test process still alive are left alone. Run before tests.
import { spawnSync } from 'node:child_process';

const run = (...args) => spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

const listed = run('ip', 'netns', 'list');
if (listed.status === 0) {
  for (const line of listed.stdout.split('\n')) {
    const match = /^(nfqt-(?:[a-z]+-)?(\d+)-[0-9a-f]+)\b/.exec(line);
    if (!match || alive(Number(match[2]))) continue;
    for (const pid of run('ip', 'netns', 'pids', match[1]).stdout.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    run('ip', 'netns', 'delete', match[1]);
    console.log(`clean-test-namespaces: deleted ${match[1]}, left by a test run that was killed`);
  }
}
