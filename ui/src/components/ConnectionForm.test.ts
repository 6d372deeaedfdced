import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import ConnectionForm from './ConnectionForm.svelte';
import * as backend from '../lib/backend';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  testConnection: vi.fn(),
  saveConnection: vi.fn(),
  connect: vi.fn(),
}));

const regions = [
  { slug: 'nyc3', city: 'New York', coldStorage: true, cdn: true },
  { slug: 'fra1', city: 'Frankfurt', coldStorage: true, cdn: true },
];

async function fill(id: string, value: string) {
  const input = document.getElementById(id) as HTMLInputElement;
  await fireEvent.input(input, { target: { value } });
}

describe('ConnectionForm', () => {
  beforeEach(() => {
    vi.resetAllMocks();
  });

  it('shows the server’s reason when a test fails', async () => {
    vi.mocked(backend.testConnection).mockRejectedValue({
      kind: 'wrongSecret',
      message: 'The secret doesn’t match this access key.',
    });
    render(ConnectionForm, { kind: 'custom', regions, onConnected: vi.fn(), onBack: vi.fn() });
    await fill('conn-endpoint', 'http://127.0.0.1:7480');
    await fill('conn-access-key', ' AK ');
    await fill('conn-secret', 'wrong');
    await fireEvent.click(screen.getByText('Test connection'));
    const alert = await screen.findByRole('alert');
    expect(alert.getAttribute('data-kind')).toBe('wrongSecret');
    expect(alert.textContent).toContain('doesn’t match');
    expect(backend.testConnection).toHaveBeenCalledWith(
      expect.objectContaining({
        accessKey: 'AK',
        provider: { type: 'custom', endpoint: 'http://127.0.0.1:7480', signingRegion: 'us-east-1', pathStyle: true },
      }),
    );
  });

  it('tests, saves and connects a DigitalOcean key in the chosen region', async () => {
    vi.mocked(backend.testConnection).mockResolvedValue({ reach: { reach: 'canList', spaces: 2 }, message: 'Connected.' });
    const profile = { id: 'p1', name: 'DigitalOcean', provider: { type: 'digitalOcean' as const, region: 'fra1' }, accessKey: 'AK', space: null, spaceKeys: {} };
    vi.mocked(backend.saveConnection).mockResolvedValue(profile);
    const session = { profile, endpoint: 'https://fra1.digitaloceanspaces.com' };
    vi.mocked(backend.connect).mockResolvedValue(session);
    const onConnected = vi.fn();
    render(ConnectionForm, { kind: 'digitalOcean', regions, onConnected, onBack: vi.fn() });
    await fireEvent.change(document.getElementById('conn-region') as HTMLSelectElement, { target: { value: 'fra1' } });
    await fill('conn-access-key', 'AK');
    await fill('conn-secret', 'SK');
    await fireEvent.click(screen.getByText('Save and connect'));
    await waitFor(() => expect(onConnected).toHaveBeenCalledWith(session));
    expect(backend.saveConnection).toHaveBeenCalledWith(
      expect.objectContaining({ provider: { type: 'digitalOcean', region: 'fra1' }, secret: 'SK', space: null }),
    );
    expect(backend.connect).toHaveBeenCalledWith('p1');
  });

  it('does not save a connection whose test fails', async () => {
    vi.mocked(backend.testConnection).mockRejectedValue({ kind: 'unreachable', message: 'Can’t reach it.' });
    render(ConnectionForm, { kind: 'digitalOcean', regions, onConnected: vi.fn(), onBack: vi.fn() });
    await fill('conn-access-key', 'AK');
    await fill('conn-secret', 'SK');
    await fireEvent.click(screen.getByText('Save and connect'));
    await screen.findByRole('alert');
    expect(backend.saveConnection).not.toHaveBeenCalled();
  });
});
