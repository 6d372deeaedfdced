import { render, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import SpaceHealth from './SpaceHealth.svelte';
import * as backend from '../lib/backend';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  checkSpace: vi.fn(),
}));

describe('SpaceHealth', () => {
  it('offers Stop while it checks, and Stop ends the check', async () => {
    let stopped = false;
    vi.mocked(backend.checkSpace).mockImplementation(
      (_n, _r, signal) =>
        new Promise((_, reject) => {
          signal?.addEventListener('abort', () => {
            stopped = true;
            reject({ kind: 'cancelled', message: 'Stopped.' });
          });
        }),
    );
    render(SpaceHealth, { name: 's', region: 'local' });
    document.getElementById('check-space')!.click();
    await waitFor(() => expect(document.getElementById('check-stop')).not.toBeNull());
    document.getElementById('check-stop')!.click();
    await waitFor(() => expect(document.getElementById('check-space')).not.toBeNull());
    expect(stopped).toBe(true);
    expect(document.querySelector('[role="alert"]')).toBeNull();
  });
});
