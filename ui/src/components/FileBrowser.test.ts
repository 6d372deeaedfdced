import { render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import FileBrowser from './FileBrowser.svelte';
import * as backend from '../lib/backend';
import type { Entry } from '../lib/bindings/Entry';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  listFolder: vi.fn(),
  onFileDrop: vi.fn(async () => () => {}),
}));

const space = { name: 'big', region: 'local', fileListing: 'restricted' as const, urls: { origin: 'o', server: 's', pathStyle: 'p', cdn: null }, opensWith: null, limited: false };

function file(i: number): Entry {
  return { kind: 'file', key: `item-${String(i).padStart(6, '0')}`, name: `item-${String(i).padStart(6, '0')}`, size: i, modified: null, etag: null };
}

describe('FileBrowser', () => {
  beforeEach(() => {
    vi.mocked(backend.listFolder).mockReset();
  });

  it('shows the first page at once and keeps the DOM small for 100,000 files', async () => {
    let send: (p: { prefix: string; entries: Entry[]; done: boolean }) => void = () => {};
    let finish: (n: number) => void = () => {};
    vi.mocked(backend.listFolder).mockImplementation((_s, _r, _p, onPage) => {
      send = onPage;
      return new Promise((resolve) => (finish = resolve));
    });
    const { container } = render(FileBrowser, { space });
    await waitFor(() => expect(backend.listFolder).toHaveBeenCalled());

    send({ prefix: '', entries: Array.from({ length: 1000 }, (_, i) => file(i)), done: false });
    await waitFor(() => expect(container.querySelector('[data-key="item-000000"]')).not.toBeNull());
    expect(screen.getByText(/1,000 items · loading more…/)).toBeTruthy();

    for (let page = 1; page < 100; page++) {
      send({ prefix: '', entries: Array.from({ length: 1000 }, (_, i) => file(page * 1000 + i)), done: page === 99 });
    }
    finish(100_000);
    await waitFor(() => expect(document.getElementById('files-status')?.textContent).toContain('100,000 items'));
    const rendered = container.querySelectorAll('#file-rows .row').length;
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(60);
  });

  it('puts folders first and filters as you type', async () => {
    vi.mocked(backend.listFolder).mockImplementation(async (_s, _r, prefix, onPage) => {
      onPage({
        prefix,
        entries: [
          { kind: 'file', key: 'b.txt', name: 'b.txt', size: 1, modified: null, etag: null },
          { kind: 'folder', key: 'z/', name: 'z', size: 0, modified: null, etag: null },
          { kind: 'file', key: 'a.txt', name: 'a.txt', size: 2, modified: null, etag: null },
        ],
        done: true,
      });
      return 3;
    });
    const { container } = render(FileBrowser, { space });
    await waitFor(() => expect(container.querySelectorAll('#file-rows .row').length).toBe(3));
    const keys = [...container.querySelectorAll('#file-rows .row')].map((r) => r.getAttribute('data-key'));
    expect(keys).toEqual(['z/', 'a.txt', 'b.txt']);
    const filter = document.getElementById('file-filter') as HTMLInputElement;
    filter.value = 'B.T';
    filter.dispatchEvent(new Event('input'));
    await waitFor(() => expect(container.querySelectorAll('#file-rows .row').length).toBe(1));
  });
});
