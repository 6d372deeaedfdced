import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import SpacesList from './SpacesList.svelte';
import * as backend from '../lib/backend';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  listSpaces: vi.fn(),
  spaceDetails: vi.fn(),
}));

describe('SpacesList', () => {
  beforeEach(() => {
    vi.resetAllMocks();
  });

  it('says so when there are no Spaces, and offers to create one', async () => {
    vi.mocked(backend.listSpaces).mockResolvedValue([]);
    const onCreate = vi.fn();
    render(SpacesList, { onCreate, onOpen: vi.fn() });
    expect(await screen.findByText('No Spaces yet')).toBeTruthy();
    await fireEvent.click(screen.getAllByText('Create a Space')[1]);
    expect(onCreate).toHaveBeenCalled();
  });

  it('lists each Space with its region and file listing', async () => {
    vi.mocked(backend.listSpaces).mockResolvedValue([
      { name: 'assets', region: 'nyc3', created: '2026-01-02T03:04:05Z', fileListing: 'enabled' },
      { name: 'backups', region: 'nyc3', created: null, fileListing: 'restricted' },
      { name: 'theirs', region: 'nyc3', created: null, fileListing: null },
    ]);
    render(SpacesList, { onCreate: vi.fn(), onOpen: vi.fn() });
    expect(await screen.findByText('assets')).toBeTruthy();
    expect(screen.getByText('3 Spaces')).toBeTruthy();
    expect(screen.getAllByText('nyc3')).toHaveLength(3);
    expect(screen.getByText('Enabled')).toBeTruthy();
    expect(screen.getByText('Restricted')).toBeTruthy();
  });

  it('shows a listing error in words', async () => {
    vi.mocked(backend.listSpaces).mockRejectedValue({ kind: 'unreachable', message: 'Can’t reach http://127.0.0.1:1.' });
    render(SpacesList, { onCreate: vi.fn(), onOpen: vi.fn() });
    const alert = await screen.findByRole('alert');
    expect(alert.getAttribute('data-kind')).toBe('unreachable');
  });

  it('opens a Space by name without listing, and explains a refusal', async () => {
    vi.mocked(backend.listSpaces).mockResolvedValue([]);
    vi.mocked(backend.spaceDetails).mockRejectedValue({ kind: 'accessDenied', message: 'This access key isn’t allowed to open the Space “b”.' });
    render(SpacesList, { onCreate: vi.fn(), onOpen: vi.fn() });
    await fireEvent.input(document.getElementById('open-space-name') as HTMLInputElement, { target: { value: ' b ' } });
    await fireEvent.click(screen.getByText('Open'));
    await waitFor(() => expect(document.getElementById('open-error')?.getAttribute('data-kind')).toBe('accessDenied'));
    expect(backend.spaceDetails).toHaveBeenCalledWith('b', null);
  });
});
