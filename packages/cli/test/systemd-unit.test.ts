/** The shipped systemd unit, systemd/nf-queue@.service: what it must hold, and that the docs tell how to install it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');
const unit = read('../systemd/nf-queue@.service');
/** The unit's settings (comments left out), each name with its values in order. */
const settings = new Map<string, string[]>();
for (const line of unit.split('\n')) {
  const setting = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (setting) settings.set(setting[1]!, [...(settings.get(setting[1]!) ?? []), setting[2]!]);
}

describe('systemd/nf-queue@.service', () => {
  it('runs nf-queue for queue %i as a user of its own holding only CAP_NET_ADMIN, restarted on failure', () => {
    expect(settings.get('ExecStart')).toEqual(['/usr/bin/env nf-queue $NF_QUEUE_OPTIONS %i']);
    expect(settings.get('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN']);
    expect(settings.get('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN']);
    expect(settings.get('User')).toEqual(['nf-queue']);
    expect(settings.get('Restart')).toEqual(['on-failure']);
    expect(settings.get('KillSignal')).toEqual(['SIGTERM']);
  });

  it('offers a reload only by SIGHUP', () => {
    for (const reload of settings.get('ExecReload') ?? []) expect(reload).toMatch(/kill -(HUP|s HUP|SIGHUP) \$MAINPID/);
  });

  it('is installed as the README and docs/deploying.md say', () => {
    for (const doc of [read('../README.md'), read('../../../docs/deploying.md')]) {
      expect(doc).toContain('sudo cp "$(npm root -g)/@nfq/cli/systemd/nf-queue@.service" /etc/systemd/system/');
      expect(doc).toMatch(/systemctl daemon-reload/);
      expect(doc).toMatch(/systemctl enable --now nf-queue@0/);
    }
  });
});
