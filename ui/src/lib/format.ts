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

/**
 * A file's URL under an origin: each `/`-separated part of its key percent-encoded but the
 * unreserved characters (RFC 3986), as the app's Rust side writes it (a `+` is %2B: left bare,
 * S3 servers read it as a space).
 */
export function fileUrl(origin: string, key: string): string {
  const bytes = new TextEncoder();
  const part = (s: string) =>
    [...bytes.encode(s)]
      .map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) && b < 128 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
      .join('');
  return `${origin.replace(/\/+$/, '')}/${key.split('/').map(part).join('/')}`;
}
