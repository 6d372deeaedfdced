// The one module that talks to the Rust side. Components import from here, never from @tauri-apps.
import { invoke, Channel } from '@tauri-apps/api/core';
import type { AppInfo } from './bindings/AppInfo';
import type { ConnectionDraft } from './bindings/ConnectionDraft';
import type { ConnectionProfile } from './bindings/ConnectionProfile';
import type { ErrorPayload } from './bindings/ErrorPayload';
import type { Progress } from './bindings/Progress';
import type { Session } from './bindings/Session';
import type { SpaceSummary } from './bindings/SpaceSummary';
import type { TestResult } from './bindings/TestResult';

export function appInfo(): Promise<AppInfo> {
  return invoke('app_info');
}

/** Starts the local sandbox (or reuses it) and connects; each step is reported to `onProgress`. */
export function startSandbox(onProgress: (p: Progress) => void): Promise<Session> {
  const channel = new Channel<Progress>();
  channel.onmessage = onProgress;
  return invoke('start_sandbox', { onProgress: channel });
}

export function testConnection(draft: ConnectionDraft): Promise<TestResult> {
  return invoke('test_connection', { draft });
}

export function saveConnection(draft: ConnectionDraft): Promise<ConnectionProfile> {
  return invoke('save_connection', { draft });
}

export function connect(id: string): Promise<Session> {
  return invoke('connect', { id });
}

export function disconnect(): Promise<void> {
  return invoke('disconnect');
}

export function deleteConnection(id: string): Promise<void> {
  return invoke('delete_connection', { id });
}

export function listSpaces(): Promise<SpaceSummary[]> {
  return invoke('list_spaces');
}

export function isErrorPayload(e: unknown): e is ErrorPayload {
  return typeof e === 'object' && e !== null && 'kind' in e && 'message' in e;
}

/** Every rejected command carries {kind, message}; anything else is shown as plain text. */
export function toErrorPayload(e: unknown): ErrorPayload {
  if (isErrorPayload(e)) return e;
  return { kind: 'io', message: e instanceof Error ? e.message : String(e) };
}
