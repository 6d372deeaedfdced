// Light or dark: the system's setting unless the user chose one (kept in this window's storage).
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'spacedock.theme';
const media = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;

function stored(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'system';
}

export const theme = $state({ choice: stored() });

/** Marks the page light or dark; the colours follow (app.css). */
export function applyTheme() {
  const dark = theme.choice === 'dark' || (theme.choice === 'system' && (media?.matches ?? false));
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

export function chooseTheme(choice: ThemeChoice) {
  theme.choice = choice;
  if (choice === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, choice);
  applyTheme();
}

media?.addEventListener('change', applyTheme);
