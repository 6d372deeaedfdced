import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import KeysPage from './KeysPage.svelte';
import * as backend from '../lib/backend';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  listKeys: vi.fn(),
  setApiToken: vi.fn(),
  generateKey: vi.fn(),
  forgetKey: vi.fn(),
  rotationPlan: vi.fn(),
  rotateKey: vi.fn(),
}));

const page = {
  keys: [
    { key: { name: 'client-a', accessKey: 'AK1', scope: { type: 'limited' as const, grants: [{ space: 'a', permission: 'read' as const }] }, created: '2026-11-27T12:00:00Z' }, current: false, inKeychain: true, canRotate: true },
  ],
  spaces: ['a', 'b'],
  heldElsewhere: [] as { name: string; accessKey: string }[],
  spacesProblem: null as string | null,
};

describe('KeysPage', () => {
  beforeEach(() => {
    vi.resetAllMocks();
  });

  it('asks for a DigitalOcean API token when one is needed, then lists the keys', async () => {
    vi.mocked(backend.listKeys)
      .mockRejectedValueOnce({ kind: 'apiTokenNeeded', message: 'To manage DigitalOcean keys here, paste a personal access token.' })
      .mockResolvedValueOnce(page);
    vi.mocked(backend.setApiToken).mockResolvedValue();
    render(KeysPage, { onConnected: vi.fn() });
    const input = (await screen.findByLabelText('Personal access token')) as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'dop_v1_token' } });
    await fireEvent.click(screen.getByText('Save token'));
    await waitFor(() => expect(backend.setApiToken).toHaveBeenCalledWith('dop_v1_token'));
    await waitFor(() => expect(document.getElementById('keys-table')?.textContent).toContain('client-a'));
    expect(screen.getByText('Limited: a (Read)')).toBeTruthy();
  });

  it('shows a new secret once and forgets it when dismissed', async () => {
    vi.mocked(backend.listKeys).mockResolvedValue(page);
    vi.mocked(backend.generateKey).mockResolvedValue({ key: { name: 'ci', accessKey: 'AK2', scope: { type: 'full' }, created: null }, secret: 'S3CRET-ONCE' });
    render(KeysPage, { onConnected: vi.fn() });
    await waitFor(() => expect(document.getElementById('keys-table')).not.toBeNull());
    await fireEvent.click(screen.getByText('Generate New Key'));
    await fireEvent.input(document.getElementById('key-name') as HTMLInputElement, { target: { value: 'ci' } });
    await fireEvent.click(screen.getByText('Generate Key'));
    expect(await screen.findByText('S3CRET-ONCE')).toBeTruthy();
    expect(backend.generateKey).toHaveBeenCalledWith('ci', { type: 'full' });
    await fireEvent.click(screen.getByText('I have copied the secret'));
    await waitFor(() => expect(document.body.textContent).not.toContain('S3CRET-ONCE'));
  });

  it('shows keys held in the keychain that the account does not list, and removes them', async () => {
    vi.mocked(backend.listKeys)
      .mockResolvedValueOnce({ ...page, heldElsewhere: [{ name: 'other account', accessKey: 'AKOTHER' }] })
      .mockResolvedValueOnce(page);
    vi.mocked(backend.forgetKey).mockResolvedValue();
    render(KeysPage, { onConnected: vi.fn() });
    const row = await waitFor(() => {
      const r = document.querySelector('#held-elsewhere tr[data-access-key="AKOTHER"]');
      expect(r).toBeTruthy();
      return r as HTMLElement;
    });
    expect(row.textContent).toContain('other account');
    await fireEvent.click(screen.getByText('Remove from keychain'));
    await waitFor(() => expect(document.getElementById('held-elsewhere')).toBeNull());
    expect(backend.forgetKey).toHaveBeenCalledWith('AKOTHER');
  });

  it('says what a rotation moves before it, and what it did after', async () => {
    vi.mocked(backend.listKeys).mockResolvedValue(page);
    vi.mocked(backend.rotationPlan).mockResolvedValue({ connections: ['Client A', 'Client A (laptop)'], spaces: ['a'] });
    vi.mocked(backend.rotateKey).mockResolvedValue({
      oldAccessKey: 'AK1',
      key: { name: 'client-a', accessKey: 'AK9', scope: { type: 'limited', grants: [{ space: 'a', permission: 'read' }] }, created: null },
      connections: ['Client A', 'Client A (laptop)'],
      spaces: ['a'],
      tried: ['a'],
      oldRevoked: false,
      left: 'Everything now uses the new key, but the old key AK1 was not revoked.',
      secret: 'NEW-SECRET-ONCE',
    });
    render(KeysPage, { onConnected: vi.fn() });
    await fireEvent.click(await screen.findByText('Rotate…'));
    const ask = await waitFor(() => {
      const found = document.getElementById('rotate-ask');
      expect(found).not.toBeNull();
      return found as HTMLElement;
    });
    expect(ask.textContent).toContain('The saved connections Client A and Client A (laptop) move to it.');
    expect(ask.textContent).toContain('The Space a opens with it.');
    expect(ask.textContent).toContain('AK1 is revoked');
    // Keeping asks nothing of the server.
    await fireEvent.click(screen.getByText('Keep the key'));
    expect(document.getElementById('rotate-ask')).toBeNull();
    expect(backend.rotateKey).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByText('Rotate…'));
    await fireEvent.click(await screen.findByText('Rotate'));
    const done = await waitFor(() => {
      const found = document.getElementById('rotated');
      expect(found).not.toBeNull();
      return found as HTMLElement;
    });
    expect(backend.rotateKey).toHaveBeenCalledWith('AK1', expect.anything());
    // The new secret is shown once, apart from the notice.
    expect(await screen.findByText('NEW-SECRET-ONCE')).toBeTruthy();
    expect(done.textContent).not.toContain('NEW-SECRET-ONCE');
    expect(done.dataset.oldRevoked).toBe('false');
    expect(done.className).toContain('warn');
    expect(done.textContent).toContain('is now AK9, tried on a.');
    expect(done.textContent).toContain('was not revoked');
    expect(document.getElementById('rotate-ask')).toBeNull();
  });

  it('stays busy after Stop until the app says how the rotation ended, and says a failure', async () => {
    vi.mocked(backend.listKeys).mockResolvedValue(page);
    vi.mocked(backend.rotationPlan).mockResolvedValue({ connections: [], spaces: [] });
    let settle: (() => void) | null = null;
    vi.mocked(backend.rotateKey).mockImplementation(
      (_ak, signal) =>
        new Promise((_, reject) => {
          signal?.addEventListener('abort', () => {
            settle = () => reject({ kind: 'invalidInput', message: 'The key was not rotated: the new key could not be revoked.' });
          });
        }),
    );
    render(KeysPage, { onConnected: vi.fn() });
    await fireEvent.click(await screen.findByText('Rotate…'));
    await fireEvent.click(await screen.findByText('Rotate'));
    const stop = (await waitFor(() => {
      const found = document.getElementById('rotate-stop');
      expect(found).not.toBeNull();
      return found;
    })) as HTMLButtonElement;
    await fireEvent.click(stop);
    // Still busy: the app has not answered yet.
    await waitFor(() => expect((document.getElementById('rotate-stop') as HTMLButtonElement).disabled).toBe(true));
    expect(document.getElementById('rotate-ask')?.textContent).toContain('Stopping');
    expect(document.getElementById('rotate-keep')).toBeNull();
    settle!();
    await waitFor(() => expect(document.getElementById('keys-error')?.textContent).toContain('could not be revoked'));
    expect(document.getElementById('rotate-ask')).toBeNull();
  });
});
