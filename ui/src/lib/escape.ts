// Escape closes what it is put on (a form, a question), as desktop dialogs close; the key goes no
// further, so the page behind does not also act on it. A `close` that says false had nothing open:
// the key goes on.
export function escape(node: HTMLElement, close: () => boolean | void) {
  let current = close;
  const onKey = (e: KeyboardEvent) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    if (current() !== false) e.preventDefault();
  };
  node.addEventListener('keydown', onKey);
  return {
    update: (next: () => boolean | void) => (current = next),
    destroy: () => node.removeEventListener('keydown', onKey),
  };
}
