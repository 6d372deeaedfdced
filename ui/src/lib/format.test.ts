import { describe, expect, it } from 'vitest';
import { formatSize } from './format';

describe('formatSize', () => {
  it('reads like the Control Panel', () => {
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(999)).toBe('999 B');
    expect(formatSize(1500)).toBe('1.5 KB');
    expect(formatSize(65_536)).toBe('66 KB');
    expect(formatSize(1_073_741_824)).toBe('1.1 GB');
  });
});
