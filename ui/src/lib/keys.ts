// Access keys in words: the permissions a key may have in a Space, and what a key may do where.
import type { KeyRow } from './bindings/KeyRow';
import type { Permission } from './bindings/Permission';

export const PERMISSIONS: { value: Permission; label: string }[] = [
  { value: 'read', label: 'Read' },
  { value: 'readWrite', label: 'Read/Write/Delete' },
  { value: 'fullAccess', label: 'Full access' },
];

export function permissionLabel(p: Permission): string {
  return PERMISSIONS.find((x) => x.value === p)?.label ?? p;
}

/** What the key may do in `space`, or null for nothing. */
export function grantOf(row: KeyRow, space: string): Permission | null {
  if (row.key.scope.type === 'full') return 'fullAccess';
  return row.key.scope.grants.find((g) => g.space === space)?.permission ?? null;
}
