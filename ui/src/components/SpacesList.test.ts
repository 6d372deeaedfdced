import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import SpacesList from './SpacesList.svelte';
import * as backend from '../lib/backend';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  listSpaces: vi.fn(),
  spaceDetails: vi.fn(),
  openSpaceWithKey: vi.fn(),
  heldKeys: vi.fn(),
}));

describe('SpacesList', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    vi.mocked(backend.heldKeys).mockResolvedValue([]);
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
      { name: 'assets', region: 'nyc3', created: '2026-01-02T03:04:05Z', fileListing: 'enabled', opensWith: null },
      { name: 'backups', region: 'nyc3', created: null, fileListing: 'restricted', opensWith: null },
      { name: 'theirs', region: 'fra1', created: null, fileListing: null, opensWith: 'Client B' },
    ]);
    render(SpacesList, { onCreate: vi.fn(), onOpen: vi.fn() });
    expect(await screen.findByText('assets')).toBeTruthy();
    expect(screen.getByText('3 Spaces')).toBeTruthy();
    expect(screen.getAllByText('nyc3')).toHaveLength(2);
    // A Space known by name shows the key it remembers.
    expect(screen.getByText('Client B').classList.contains('badge')).toBe(true);
    expect(screen.getAllByText('This connection’s key')).toHaveLength(2);
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
    vi.mocked(backend.openSpaceWithKey).mockRejectedValue({ kind: 'accessDenied', message: 'This access key isn’t allowed to open the Space “b”.' });
    render(SpacesList, { onCreate: vi.fn(), onOpen: vi.fn() });
    await fireEvent.input(document.getElementById('open-space-name') as HTMLInputElement, { target: { value: ' b ' } });
    await fireEvent.click(screen.getByText('Open'));
    await waitFor(() => expect(document.getElementById('open-error')?.getAttribute('data-kind')).toBe('accessDenied'));
    expect(backend.openSpaceWithKey).toHaveBeenCalledWith('b', null, null);
    expect(backend.spaceDetails).not.toHaveBeenCalled();
  });

  it('opens a Space with another key the app holds', async () => {
    vi.mocked(backend.listSpaces).mockResolvedValue([]);
    vi.mocked(backend.heldKeys).mockResolvedValue([{ name: 'Client A', accessKey: 'AKCLIENTA' }]);
    const opened = {
      name: 'client-a',
      region: 'local',
      fileListing: null,
      urls: { origin: 'o', server: 's', pathStyle: 'p', cdn: null },
      opensWith: { name: 'Client A', accessKey: 'AKCLIENTA' },
      limited: true,
    };
    vi.mocked(backend.openSpaceWithKey).mockResolvedValue(opened);
    const onOpen = vi.fn();
    render(SpacesList, { onCreate: vi.fn(), onOpen });
    const select = document.getElementById('open-space-key') as HTMLSelectElement;
    await waitFor(() => expect(select.disabled).toBe(false));
    expect(select.options[1].textContent).toBe('with the key “Client A”');
    await fireEvent.change(select, { target: { value: 'AKCLIENTA' } });
    await fireEvent.input(document.getElementById('open-space-name') as HTMLInputElement, { target: { value: 'client-a' } });
    await fireEvent.click(screen.getByText('Open'));
    await waitFor(() => expect(onOpen).toHaveBeenCalledWith(opened));
    expect(backend.openSpaceWithKey).toHaveBeenCalledWith('client-a', null, 'AKCLIENTA');
  });
});
