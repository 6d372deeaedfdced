import { render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import SandboxStart from './SandboxStart.svelte';
import * as backend from '../lib/backend';
import type { Progress } from '../lib/bindings/Progress';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  startSandbox: vi.fn(),
}));

const session = {
  profile: { id: 'sandbox', name: 'Local sandbox', provider: { type: 'sandbox' as const }, accessKey: 'AK', space: null, spaceKeys: {} },
  endpoint: 'http://127.0.0.1:7480',
};

describe('SandboxStart', () => {
  beforeEach(() => {
    vi.mocked(backend.startSandbox).mockReset();
  });

  it('shows each step as it finishes, then hands over the session', async () => {
    let report: (p: Progress) => void = () => {};
    let finish: (s: typeof session) => void = () => {};
    vi.mocked(backend.startSandbox).mockImplementation((cb) => {
      report = cb;
      return new Promise((resolve) => (finish = resolve));
    });
    const onReady = vi.fn();
    const { container } = render(SandboxStart, { onReady, onBack: vi.fn() });

    report({ step: 'monitor', done: false, elapsedMs: 100, firstStart: true });
    await waitFor(() => expect(container.querySelector('[data-step="monitor"]')?.getAttribute('data-state')).toBe('running'));
    expect(screen.getByText(/Creating a one-host Ceph cluster/)).toBeTruthy();

    report({ step: 'monitor', done: true, elapsedMs: 600, firstStart: true });
    report({ step: 'storage', done: false, elapsedMs: 600, firstStart: true });
    await waitFor(() => expect(container.querySelector('[data-step="monitor"]')?.textContent).toContain('0.5 s'));
    expect(container.querySelector('[data-step="storage"]')?.getAttribute('data-state')).toBe('running');
    expect(container.querySelector('[data-step="gateway"]')?.getAttribute('data-state')).toBe('waiting');

    finish(session);
    await waitFor(() => expect(onReady).toHaveBeenCalledWith(session));
  });

  it('explains missing Ceph packages and offers another connection, not a retry', async () => {
    vi.mocked(backend.startSandbox).mockRejectedValue({
      kind: 'sandboxMissing',
      message: 'The local sandbox needs Ceph, which is not installed (missing: radosgw).',
    });
    const onBack = vi.fn();
    render(SandboxStart, { onReady: vi.fn(), onBack });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('missing: radosgw');
    expect(screen.queryByText('Try again')).toBeNull();
    screen.getByText('Choose another connection').click();
    expect(onBack).toHaveBeenCalled();
  });
});
