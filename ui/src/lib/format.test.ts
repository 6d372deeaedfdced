import { describe, expect, it } from 'vitest';
import { fileUrl, formatSize } from './format';

describe('formatSize', () => {
  it('reads like the Control Panel', () => {
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(999)).toBe('999 B');
    expect(formatSize(1500)).toBe('1.5 KB');
    expect(formatSize(65_536)).toBe('66 KB');
    expect(formatSize(1_073_741_824)).toBe('1.1 GB');
  });
});

describe('fileUrl', () => {
  it('encodes each part of a key as the Rust side does', () => {
    // The same key and URL the E2E reads from the server (a `+` left bare would be a space).
    expect(fileUrl('https://a.example', 'holiday/day 2/notes+ünï.txt')).toBe('https://a.example/holiday/day%202/notes%2B%C3%BCn%C3%AF.txt');
    expect(fileUrl('https://a.example/', "x/(1)!*'~_-.txt")).toBe('https://a.example/x/%281%29%21%2A%27~_-.txt');
    expect(fileUrl('https://a.example', 'a?b#c/%')).toBe('https://a.example/a%3Fb%23c/%25');
  });
});
