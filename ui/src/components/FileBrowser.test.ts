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

describe('FileBrowser by keyboard', () => {
  const entries: Entry[] = ['a.txt', 'b.txt', 'c+d.txt', 'e.txt'].map((k) => ({ kind: 'file', key: k, name: k, size: 1, modified: null, etag: '"x"' }));

  beforeEach(() => {
    vi.mocked(backend.listFolder).mockReset();
    vi.mocked(backend.listFolder).mockImplementation(async (_s, _r, prefix, onPage) => {
      onPage({ prefix, entries, done: true });
      return entries.length;
    });
  });

  const key = (target: EventTarget, key: string, mods: KeyboardEventInit = {}) =>
    target.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...mods }));
  const chosen = (c: HTMLElement) => [...c.querySelectorAll('[role="row"][aria-selected="true"]')].map((r) => r.getAttribute('data-key'));

  it('moves and selects with arrows, Shift, Ctrl and Space, as a file manager does', async () => {
    const { container } = render(FileBrowser, { space });
    await waitFor(() => expect(container.querySelectorAll('#file-rows .row').length).toBe(4));
    // An arrow on the page puts the keyboard on the list, choosing nothing yet.
    key(document.body, 'ArrowDown');
    await waitFor(() => expect(document.activeElement?.getAttribute('data-key')).toBe('a.txt'));
    expect(chosen(container)).toEqual([]);
    key(document.activeElement!, 'ArrowDown');
    await waitFor(() => expect(document.activeElement?.getAttribute('data-key')).toBe('b.txt'));
    expect(chosen(container)).toEqual(['b.txt']);
    key(document.activeElement!, 'ArrowDown', { shiftKey: true });
    await waitFor(() => expect(chosen(container)).toEqual(['b.txt', 'c+d.txt']));
    // Ctrl moves the keyboard alone; Space adds the row it is on.
    key(document.activeElement!, 'ArrowDown', { ctrlKey: true });
    await waitFor(() => expect(document.activeElement?.getAttribute('data-key')).toBe('e.txt'));
    expect(chosen(container)).toEqual(['b.txt', 'c+d.txt']);
    key(document.activeElement!, ' ');
    await waitFor(() => expect(chosen(container)).toEqual(['b.txt', 'c+d.txt', 'e.txt']));
    expect(screen.getByText('3 selected')).toBeTruthy();
    // Escape clears the selection; Ctrl+A takes every row.
    key(document.activeElement!, 'Escape');
    await waitFor(() => expect(chosen(container)).toEqual([]));
    key(document.activeElement!, 'a', { ctrlKey: true });
    await waitFor(() => expect(chosen(container).length).toBe(4));
  });

  it('Delete asks first, F2 renames one, Ctrl+C copies the URLs, the menu key opens the rows menu', async () => {
    const copied: string[] = [];
    vi.spyOn(backend, 'copyText').mockImplementation(async (t: string) => {
      copied.push(t);
    });
    const { container } = render(FileBrowser, { space: { ...space, urls: { ...space.urls, origin: 'https://big.example' } } });
    await waitFor(() => expect(container.querySelectorAll('#file-rows .row').length).toBe(4));
    key(document.body, 'ArrowDown');
    key(document.body, 'ArrowDown');
    await waitFor(() => expect(document.activeElement?.getAttribute('data-key')).toBe('a.txt'));
    key(document.activeElement!, 'ArrowDown');
    await waitFor(() => expect(chosen(container)).toEqual(['b.txt']));

    key(document.activeElement!, 'c', { ctrlKey: true });
    await waitFor(() => expect(copied).toEqual(['https://big.example/b.txt']));

    key(document.activeElement!, 'Delete');
    // The question has the focus, naming what it deletes; no choice is made by a stray Enter.
    await waitFor(() => expect(document.activeElement?.id).toBe('bulk-delete-ask'));
    expect(document.getElementById('bulk-delete-question')?.textContent).toBe('Delete “b.txt”?');
    // Escape keeps the files and gives the keyboard back to the list.
    key(document.activeElement!, 'Escape');
    await waitFor(() => expect(document.getElementById('bulk-delete-confirm')).toBeNull());
    expect(document.activeElement?.getAttribute('data-key')).toBe('b.txt');

    // A question left open is withdrawn when the selection changes: never carried to other rows.
    key(document.activeElement!, 'Delete');
    await waitFor(() => expect(document.getElementById('bulk-delete-ask')).not.toBeNull());
    document.querySelector<HTMLElement>('[data-key="b.txt"]')!.focus();
    key(document.activeElement!, 'ArrowDown');
    await waitFor(() => expect(chosen(container)).toEqual(['c+d.txt']));
    expect(document.getElementById('bulk-delete-ask')).toBeNull();
    key(document.activeElement!, 'ArrowUp');
    await waitFor(() => expect(chosen(container)).toEqual(['b.txt']));

    key(document.activeElement!, 'F2');
    await waitFor(() => expect(document.getElementById('copy-dialog')?.getAttribute('data-action')).toBe('rename'));
    key(document.getElementById('copy-name')!, 'Escape');
    await waitFor(() => expect(document.getElementById('copy-dialog')).toBeNull());

    // Two rows: one line each; the key's `+` encoded, as S3 servers read it.
    document.querySelector<HTMLElement>('[data-key="b.txt"]')!.focus();
    key(document.activeElement!, 'ArrowDown', { shiftKey: true });
    await waitFor(() => expect(chosen(container)).toEqual(['b.txt', 'c+d.txt']));
    key(document.activeElement!, 'c', { ctrlKey: true });
    await waitFor(() => expect(copied[1]).toBe('https://big.example/b.txt\nhttps://big.example/c%2Bd.txt'));

    key(document.activeElement!, 'ContextMenu');
    await waitFor(() => expect(document.getElementById('row-menu')).not.toBeNull());
    const items = [...document.querySelectorAll('#row-menu [role="menuitem"]')].map((i) => i.id);
    expect(items).toEqual(['menu-download', 'menu-copy-url', 'menu-rename', 'menu-move', 'menu-copy', 'menu-public', 'menu-private', 'menu-delete']);
    // Rename is for one item: shown, not offered.
    expect(document.getElementById('menu-rename')?.getAttribute('aria-disabled')).toBe('true');
    key(document.activeElement!, 'Escape');
    await waitFor(() => expect(document.getElementById('row-menu')).toBeNull());

    // A right-click on a row outside the selection: that row alone, and the menu where it was.
    const row = container.querySelector<HTMLElement>('[data-key="e.txt"]')!;
    row.dispatchEvent(new MouseEvent('contextmenu', { bubbles: true, cancelable: true, clientX: 30, clientY: 40 }));
    await waitFor(() => expect(document.getElementById('row-menu')).not.toBeNull());
    expect(chosen(container)).toEqual(['e.txt']);
    expect(document.getElementById('menu-details')).not.toBeNull();
    document.getElementById('menu-copy-url')!.click();
    await waitFor(() => expect(copied[2]).toBe('https://big.example/e.txt'));
    expect(document.getElementById('row-menu')).toBeNull();
  });

  it('never acts on rows the filter hides, nor from outside the list', async () => {
    const { container } = render(FileBrowser, { space });
    await waitFor(() => expect(container.querySelectorAll('#file-rows .row').length).toBe(4));
    key(document.body, 'ArrowDown');
    await waitFor(() => expect(document.activeElement?.getAttribute('data-key')).toBe('a.txt'));
    key(document.activeElement!, 'a', { ctrlKey: true });
    await waitFor(() => expect(screen.getByText('4 selected')).toBeTruthy());
    const filter = document.getElementById('file-filter') as HTMLInputElement;
    filter.value = 'e.t';
    filter.dispatchEvent(new Event('input'));
    await waitFor(() => expect(screen.getByText('1 selected')).toBeTruthy());
    // Delete pressed on the More button (not in the list) asks nothing.
    const more = document.getElementById('more-actions')!;
    more.focus();
    key(more, 'Delete');
    await new Promise((r) => setTimeout(r, 50));
    expect(document.getElementById('bulk-delete-ask')).toBeNull();
  });

  it('a delete stopped before the app began says nothing was deleted', async () => {
    const deleting = vi.spyOn(backend, 'deleteFiles').mockRejectedValue({ kind: 'cancelled', message: 'Cancelled. Stopped.' });
    const { container } = render(FileBrowser, { space });
    await waitFor(() => expect(container.querySelectorAll('#file-rows .row').length).toBe(4));
    key(document.body, 'ArrowDown');
    await waitFor(() => expect(document.activeElement?.getAttribute('data-key')).toBe('a.txt'));
    key(document.activeElement!, 'ArrowDown');
    await waitFor(() => expect(chosen(container)).toEqual(['b.txt']));
    key(document.activeElement!, 'Delete');
    await waitFor(() => expect(document.getElementById('bulk-delete-confirm')).not.toBeNull());
    document.getElementById('bulk-delete-confirm')!.click();
    await waitFor(() => expect(document.getElementById('bulk-message')?.textContent).toBe('Stopped before any file was deleted; everything is still there.'));
    expect(deleting).toHaveBeenCalled();
  });
});
