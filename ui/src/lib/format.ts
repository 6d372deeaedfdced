const units = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Sizes as people read them (1 KB = 1000 B, as the Control Panel shows). */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(rfc3339: string | null | undefined): string {
  return rfc3339 ? dateFormat.format(new Date(rfc3339)) : '—';
}
