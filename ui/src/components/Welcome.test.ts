import { render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import Welcome from './Welcome.svelte';

const base = {
  connections: [],
  lastUsed: null,
  startOnSandbox: false,
  sandboxMissing: [],
  sandboxPackages: [],
  regions: [],
};

describe('Welcome', () => {
  it('offers the three ways to connect on first run', () => {
    const onSandbox = vi.fn();
    render(Welcome, { info: base, onSandbox, onForm: vi.fn(), onConnect: vi.fn(), onRemove: vi.fn() });
    expect(screen.getByText('How do you want to connect?')).toBeTruthy();
    (document.getElementById('choose-sandbox') as HTMLButtonElement).click();
    expect(onSandbox).toHaveBeenCalled();
  });

  it('names the packages to install when Ceph is missing', () => {
    render(Welcome, {
      info: { ...base, sandboxMissing: ['radosgw'], sandboxPackages: ['radosgw'] },
      onSandbox: vi.fn(),
      onForm: vi.fn(),
      onConnect: vi.fn(),
      onRemove: vi.fn(),
    });
    expect((document.getElementById('choose-sandbox') as HTMLButtonElement).disabled).toBe(true);
    expect(document.getElementById('sandbox-missing')?.textContent).toContain('sudo apt install radosgw');
  });
});
