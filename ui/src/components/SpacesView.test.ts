import { render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import SpacesView from './SpacesView.svelte';
import * as backend from '../lib/backend';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  listSpaces: vi.fn(),
}));

const session = {
  profile: { id: 'sandbox', name: 'Local sandbox', provider: { type: 'sandbox' as const }, accessKey: 'AK', space: null },
  endpoint: 'http://127.0.0.1:7480',
};

describe('SpacesView', () => {
  beforeEach(() => {
    vi.mocked(backend.listSpaces).mockReset();
  });

  it('says so when there are no Spaces', async () => {
    vi.mocked(backend.listSpaces).mockResolvedValue([]);
    render(SpacesView, { session, onSwitch: vi.fn() });
    expect(await screen.findByText('No Spaces yet')).toBeTruthy();
    expect(screen.getByText('Local sandbox')).toBeTruthy();
  });

  it('lists each Space with its region', async () => {
    vi.mocked(backend.listSpaces).mockResolvedValue([
      { name: 'assets', region: 'nyc3', created: '2026-01-02T03:04:05Z' },
      { name: 'backups', region: 'nyc3', created: null },
    ]);
    render(SpacesView, { session, onSwitch: vi.fn() });
    expect(await screen.findByText('assets')).toBeTruthy();
    expect(screen.getByText('backups')).toBeTruthy();
    expect(screen.getByText('2 Spaces')).toBeTruthy();
    expect(screen.getAllByText('nyc3')).toHaveLength(2);
  });

  it('shows a listing error in words', async () => {
    vi.mocked(backend.listSpaces).mockRejectedValue({ kind: 'unreachable', message: 'Can’t reach http://127.0.0.1:1.' });
    render(SpacesView, { session, onSwitch: vi.fn() });
    const alert = await screen.findByRole('alert');
    expect(alert.getAttribute('data-kind')).toBe('unreachable');
  });
});
