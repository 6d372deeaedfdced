// The one module that talks to the Rust side. Components import from here, never from @tauri-apps.
import { invoke, Channel } from '@tauri-apps/api/core';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import type { HiddenUsage } from './bindings/HiddenUsage';
import type { Finding } from './bindings/Finding';
import type { Fix } from './bindings/Fix';
import type { SpaceUsage } from './bindings/SpaceUsage';
import type { AppInfo } from './bindings/AppInfo';
import type { ConnectionDraft } from './bindings/ConnectionDraft';
import type { ConnectionProfile } from './bindings/ConnectionProfile';
import type { ErrorPayload } from './bindings/ErrorPayload';
import type { Progress } from './bindings/Progress';
import type { Session } from './bindings/Session';
import type { SpaceSummary } from './bindings/SpaceSummary';
import type { TestResult } from './bindings/TestResult';
import type { Availability } from './bindings/Availability';
import type { CorsRule } from './bindings/CorsRule';
import type { CreateOptions } from './bindings/CreateOptions';
import type { DestroyProgress } from './bindings/DestroyProgress';
import type { FileListing } from './bindings/FileListing';
import type { RuleCheck } from './bindings/RuleCheck';
import type { SpaceDetails } from './bindings/SpaceDetails';
import type { ListingPage } from './bindings/ListingPage';
import type { Conflict } from './bindings/Conflict';
import type { DownloadSummary } from './bindings/DownloadSummary';
import type { PlannedDownload } from './bindings/PlannedDownload';
import type { SavedRules } from './bindings/SavedRules';
import type { Restored } from './bindings/Restored';
import type { DeleteSummary } from './bindings/DeleteSummary';
import type { FileAcl } from './bindings/FileAcl';
import type { TransferRow } from './bindings/TransferRow';
import type { TransfersChanged } from './bindings/TransfersChanged';
import type { UploadPlan } from './bindings/UploadPlan';
import type { UploadSummary } from './bindings/UploadSummary';
import type { Interrupted } from './bindings/Interrupted';
import type { Resumed } from './bindings/Resumed';
import type { TransferLimits } from './bindings/TransferLimits';
import type { FileDetails } from './bindings/FileDetails';
import type { FileView } from './bindings/FileView';
import type { Metadata } from './bindings/Metadata';
import type { GeneratedKey } from './bindings/GeneratedKey';
import type { KeyTest } from './bindings/KeyTest';
import type { KeysPage } from './bindings/KeysPage';
import type { AccessLogging } from './bindings/AccessLogging';
import type { LogFilter } from './bindings/LogFilter';
import type { LogReport } from './bindings/LogReport';
import type { RotatedKey } from './bindings/RotatedKey';
import type { RotationPlan } from './bindings/RotationPlan';
import type { Permission } from './bindings/Permission';
import type { Scope } from './bindings/Scope';
import type { HeldKey } from './bindings/HeldKey';
import type { UnfinishedUpload } from './bindings/UnfinishedUpload';
import type { AbortSummary } from './bindings/AbortSummary';
import type { CopyMode } from './bindings/CopyMode';
import type { CdnEndpoint } from './bindings/CdnEndpoint';
import type { CdnSettings } from './bindings/CdnSettings';
import type { CdnState } from './bindings/CdnState';
import type { CopyRequest } from './bindings/CopyRequest';
import type { CopySummary } from './bindings/CopySummary';
import type { PlannedCopy } from './bindings/PlannedCopy';
import type { Versioning } from './bindings/Versioning';
import type { FileVersion } from './bindings/FileVersion';
import type { DeletedFile } from './bindings/DeletedFile';
import type { FolderSize } from './bindings/FolderSize';
import type { About } from './bindings/About';
import type { Preview } from './bindings/Preview';
import type { Requirement } from './bindings/Requirement';
import type { LifecycleRule } from './bindings/LifecycleRule';
import type { SearchPage } from './bindings/SearchPage';
import type { NewPair } from './bindings/NewPair';
import type { SyncPair } from './bindings/SyncPair';
import type { SyncPlan } from './bindings/SyncPlan';
import type { SyncOutcome } from './bindings/SyncOutcome';
import type { SyncSchedule } from './bindings/SyncSchedule';

export function appInfo(): Promise<AppInfo> {
  return invoke('app_info');
}

/** The first usable screen is painted (the app reports its start-up time when asked to). */
export function firstScreen(screen: string): Promise<void> {
  return invoke('first_screen', { screen });
}

export function about(): Promise<About> {
  return invoke('about');
}

/** What the app needs from this computer (keychain, Ceph, WebKit), and whether it has it. */
export function checkRequirements(): Promise<Requirement[]> {
  return invoke('check_requirements');
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
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

// --- Spaces: create, open, settings ---
export function checkSpaceName(name: string): Promise<RuleCheck[]> {
  return invoke('check_space_name', { name });
}

export function createOptions(): Promise<CreateOptions> {
  return invoke('create_options');
}

export function spaceAvailability(name: string, region: string): Promise<Availability> {
  return invoke('space_availability', { name, region });
}

/** Creates a Space; on DigitalOcean, `project` (an id) is the project it goes in. */
export function createSpace(name: string, region: string, fileListing: FileListing, project: string | null = null): Promise<SpaceDetails> {
  return invoke('create_space', { name, region, fileListing, project });
}

export function assignSpaceToProject(name: string, project: string): Promise<void> {
  return invoke('assign_space_to_project', { name, project });
}

export function spaceDetails(name: string, region: string | null = null): Promise<SpaceDetails> {
  return invoke('space_details', { name, region });
}

/** A Space's size and file count: the server's figures in one request (null where it keeps
 *  none), or with `listing` every file counted. */
export function spaceUsage(name: string, region: string | null, listing: boolean): Promise<SpaceUsage | null> {
  return invoke('space_usage', { name, region, listing });
}

/** What a Space holds that no file list shows: earlier versions, unfinished uploads' parts. */
export function hiddenUsage(name: string, region: string | null, signal?: AbortSignal): Promise<HiddenUsage> {
  return stoppable(signal, (request) => invoke('hidden_usage', { name, region, request }));
}

/** "Check this Space": each check's finding. */
export function checkSpace(name: string, region: string | null, signal?: AbortSignal): Promise<Finding[]> {
  return stoppable(signal, (request) => invoke('check_space', { name, region, request }));
}

/** One of the check's fixes; says what it did. */
export function fixSpace(name: string, region: string | null, fix: Fix): Promise<string> {
  return invoke('fix_space', { name, region, fix });
}

export function setFileListing(name: string, region: string | null, fileListing: FileListing): Promise<FileListing> {
  return invoke('set_file_listing', { name, region, fileListing });
}

export function corsRules(name: string, region: string | null): Promise<CorsRule[]> {
  return invoke('cors_rules', { name, region });
}

export function setCorsRules(name: string, region: string | null, rules: CorsRule[]): Promise<CorsRule[]> {
  return invoke('set_cors_rules', { name, region, rules });
}

export function spaceIsEmpty(name: string, region: string | null): Promise<boolean> {
  return invoke('space_is_empty', { name, region });
}

export function destroySpace(
  name: string,
  region: string | null,
  typedName: string,
  deleteFiles: boolean,
  onProgress: (p: DestroyProgress) => void,
): Promise<number> {
  const channel = new Channel<DestroyProgress>();
  channel.onmessage = onProgress;
  return invoke('destroy_space', { name, region, typedName, deleteFiles, onProgress: channel });
}

export function cancelDestroy(): Promise<void> {
  return invoke('cancel_destroy');
}

/** Puts exactly `text` on the system clipboard (through Rust: the page has no clipboard permission). */
export function copyText(text: string): Promise<void> {
  return invoke('copy_text', { text });
}

/** Multipart uploads begun in the Space and never completed or aborted, with their age and size. */
export function unfinishedUploads(name: string, region: string): Promise<UnfinishedUpload[]> {
  return invoke('unfinished_uploads', { name, region });
}

/** Aborts unfinished uploads, each as [key, upload id]; their stored parts are deleted. */
export function abortUnfinishedUploads(name: string, region: string, uploads: [string, string][]): Promise<AbortSummary> {
  return invoke('abort_unfinished_uploads', { name, region, uploads });
}
// --- Files ---

/** Streams a folder's entries page by page; a newer call stops an older one. */
export function listFolder(
  space: string,
  region: string | null,
  prefix: string,
  onPage: (page: ListingPage) => void,
): Promise<number> {
  const channel = new Channel<ListingPage>();
  channel.onmessage = onPage;
  return invoke('list_folder', { space, region, prefix, onPage: channel });
}

/** Counts the files and bytes below `prefix` ('' is the whole Space), with progress. */
export function folderSize(
  space: string,
  region: string | null,
  prefix: string,
  onProgress: (size: FolderSize) => void,
): Promise<FolderSize> {
  const channel = new Channel<FolderSize>();
  channel.onmessage = onProgress;
  return invoke('folder_size', { space, region, prefix, onProgress: channel });
}

/** Searches the whole Space by file name; matches stream to `onPage`. A newer search stops it. */
export function searchSpace(
  space: string,
  region: string | null,
  needle: string,
  onPage: (page: SearchPage) => void,
): Promise<number> {
  const channel = new Channel<SearchPage>();
  channel.onmessage = onPage;
  return invoke('search_space', { space, region, needle, onPage: channel });
}

export function createFolder(space: string, region: string | null, parent: string, name: string): Promise<string> {
  return invoke('create_folder', { space, region, parent, name });
}

// --- Uploads ---

/** Plans an upload of local paths (files or folders) into a folder of a Space. */
export function planUpload(space: string, region: string | null, prefix: string, paths: string[]): Promise<UploadPlan> {
  return invoke('plan_upload', { space, region, prefix, paths });
}

/** Runs a planned upload; its files' progress is on the Transfers panel's rows. */
export function startUpload(batch: number, acl: FileAcl, conflict: Conflict): Promise<UploadSummary> {
  return invoke('start_upload', { batch, acl, conflict });
}

// --- The Transfers panel: the engine's queue ---

/** Every row of the engine's queue now; each change from then on goes to `onChange`. */
export function watchTransfers(onChange: (c: TransfersChanged) => void): Promise<TransferRow[]> {
  const channel = new Channel<TransfersChanged>();
  channel.onmessage = onChange;
  return invoke('watch_transfers', { onChange: channel });
}

/** Cancels one file of a batch, or (with `file` null) all of it. */
export function cancelTransfer(batch: number, file: number | null): Promise<void> {
  return invoke('cancel_transfer', { batch, file });
}

/** Runs again a batch's files that failed or were cancelled; says how many. */
export function retryTransfer(batch: number): Promise<number> {
  return invoke('retry_transfer', { batch });
}

/** Clears the rows of files that finished; with `batch`, stops it and clears all of it. */
export function clearTransfers(batch: number | null): Promise<void> {
  return invoke('clear_transfers', { batch });
}

// --- Transfers a quit or a crash interrupted ---

export function interruptedTransfers(): Promise<Interrupted[]> {
  return invoke('interrupted_transfers');
}

/** Resumes one; `onProgress` gets the bytes done so far, those already there included. */
export function resumeTransfer(id: string, onProgress: (bytes: number) => void): Promise<Resumed> {
  const channel = new Channel<number>();
  channel.onmessage = onProgress;
  return invoke('resume_transfer', { id, onProgress: channel });
}

export function discardTransfer(id: string): Promise<void> {
  return invoke('discard_transfer', { id });
}

// --- Transfer limits ---

export function transferLimits(): Promise<TransferLimits> {
  return invoke('transfer_limits');
}

export function setTransferLimits(limits: TransferLimits): Promise<TransferLimits> {
  return invoke('set_transfer_limits', { limits });
}

export function pickUploadPaths(folder: boolean): Promise<string[]> {
  return invoke('pick_upload_paths', { folder });
}

/** A drop says where it landed (in CSS pixels of the page), so a drop onto a folder can move. */
export type DropState = { type: 'over'; x: number; y: number } | { type: 'drop'; paths: string[]; x: number; y: number } | { type: 'leave' };

/** Files dragged from the desktop onto the window: the OS gives paths, never the bytes. */
export async function onFileDrop(handler: (e: DropState) => void): Promise<() => void> {
  return getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    const scale = window.devicePixelRatio || 1;
    if (p.type === 'enter' || p.type === 'over') handler({ type: 'over', x: p.position.x / scale, y: p.position.y / scale });
    else if (p.type === 'drop') handler({ type: 'drop', paths: p.paths, x: p.position.x / scale, y: p.position.y / scale });
    else handler({ type: 'leave' });
  });
}

// --- One file ---

/** A file's preview (image, text, JSON, CSV), up to a size limit. */
// Started at random, so the numbers of a page loaded again don't meet those of the one before.
let lastRequest = Math.floor(Math.random() * 2 ** 30);

/**
 * Runs a command that `signal` may stop: it gets a number of its own, and an abort asks the app
 * to stop that request (the promise then fails with kind `cancelled`).
 */
function stoppable<T>(signal: AbortSignal | undefined, call: (request: number | null) => Promise<T>): Promise<T> {
  if (!signal) return call(null);
  const request = ++lastRequest;
  const stop = () => void invoke('cancel_request', { request }).catch(() => {});
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  return call(request).finally(() => signal.removeEventListener('abort', stop));
}

export function previewFile(space: string, region: string | null, key: string, signal?: AbortSignal): Promise<Preview> {
  return stoppable(signal, (request) => invoke('preview_file', { space, region, key, request }));
}

export function fileDetails(space: string, region: string | null, key: string, signal?: AbortSignal): Promise<FileView> {
  return stoppable(signal, (request) => invoke('file_details', { space, region, key, request }));
}

// --- Access logs ---

export function accessLogging(name: string, region: string | null): Promise<AccessLogging> {
  return invoke('access_logging', { name, region });
}

/** Switches access logs on (into `target`) or off (`target` null); says what the server kept. */
export function setAccessLogging(name: string, region: string | null, target: string | null, prefix: string): Promise<AccessLogging> {
  return invoke('set_access_logging', { name, region, target, prefix });
}

/** Reads the log files under `prefix` in the Space `name` into the viewer's figures. */
export function readAccessLogs(name: string, region: string | null, prefix: string, filter: LogFilter, signal?: AbortSignal): Promise<LogReport> {
  return stoppable(signal, (request) => invoke('read_access_logs', { name, region, prefix, filter, request }));
}

/** The figures of the logs last read, under another filter. */
export function filterAccessLogs(filter: LogFilter): Promise<LogReport> {
  return invoke('filter_access_logs', { filter });
}

/** Returns the files that failed, each with why. */
export function setFileAcl(space: string, region: string | null, keys: string[], acl: FileAcl): Promise<[string, string][]> {
  return invoke('set_file_acl', { space, region, keys, acl });
}

export function shareLink(space: string, region: string | null, key: string, seconds: number): Promise<string> {
  return invoke('share_link', { space, region, key, seconds });
}

/** Replaces a file's metadata, if it is still the version `etag` whose details were shown. */
export function setFileMetadata(space: string, region: string | null, key: string, metadata: Metadata, etag: string | null): Promise<FileDetails> {
  return invoke('set_file_metadata', { space, region, key, metadata, etag });
}

/**
 * Deletes files and folders. `shown` gives the ETag each file was listed with: a file changed
 * since is kept, and said so in the answer.
 */
/** Deletes files and folders; `onProgress` hears the count deleted so far, `signal` stops it
 * between requests (the summary then says `stopped`, with what was deleted). */
export function deleteFiles(
  space: string,
  region: string | null,
  keys: string[],
  shown: Record<string, string>,
  onProgress?: (deleted: number) => void,
  signal?: AbortSignal,
): Promise<DeleteSummary> {
  const channel = new Channel<number>();
  if (onProgress) channel.onmessage = onProgress;
  return stoppable(signal, (request) => invoke('delete_files', { space, region, keys, shown, request, onProgress: channel }));
}

/** One line about a delete. */
export function deleteSentence(d: DeleteSummary): string {
  const files = `${d.deleted.toLocaleString()} ${d.deleted === 1 ? 'file' : 'files'}`;
  const parts = [d.stopped ? `Stopped: deleted ${files}; the rest is still there.` : `Deleted ${files}.`];
  for (const k of d.kept) parts.push(k.path ? `${k.path}: ${k.message}` : k.message);
  return parts.join(' ');
}

export function lifecycleRules(space: string, region: string | null): Promise<LifecycleRule[]> {
  return invoke('lifecycle_rules', { space, region });
}

/** Replaces the Space's lifecycle rules; returns them as the server has them now. */
/** Saves the rules whole, if the server still has the rules `shown`; says what it did not keep. */
export function setLifecycleRules(space: string, region: string | null, shown: LifecycleRule[], rules: LifecycleRule[]): Promise<SavedRules> {
  return invoke('set_lifecycle_rules', { space, region, shown, rules });
}

export function versioning(space: string, region: string | null): Promise<Versioning> {
  return invoke('versioning', { space, region });
}

/** Switches versioning on, or suspends it; returns what the server says now. */
export function setVersioning(space: string, region: string | null, enabled: boolean): Promise<Versioning> {
  return invoke('set_versioning', { space, region, enabled });
}

/** A file's versions and delete markers, newest first. */
export function fileVersions(space: string, region: string | null, key: string, signal?: AbortSignal): Promise<FileVersion[]> {
  return stoppable(signal, (request) => invoke('file_versions', { space, region, key, request }));
}

/** Copies a version over the current one; returns the versions after. */
/**
 * Puts an old version back. With versioning suspended the version it would replace for good is
 * replaced only when `forGood` names its ETag: the first call fails with kind `replacesForGood`.
 */
export function restoreVersion(
  space: string,
  region: string | null,
  key: string,
  versionId: string,
  forGood: string | null = null,
  signal?: AbortSignal,
): Promise<Restored> {
  return stoppable(signal, (request) => invoke('restore_version', { space, region, key, versionId, forGood, request }));
}

/** Deletes one version for good; returns the versions after. */
export function deleteVersion(space: string, region: string | null, key: string, versionId: string): Promise<FileVersion[]> {
  return invoke('delete_version', { space, region, key, versionId });
}

/** Files of the folder whose latest version is a delete marker. */
export function deletedFiles(space: string, region: string | null, prefix: string): Promise<DeletedFile[]> {
  return invoke('deleted_files', { space, region, prefix });
}

export function undeleteFiles(space: string, region: string | null, keys: string[]): Promise<number> {
  return invoke('undelete_files', { space, region, keys });
}

/** Asks for a folder and plans saving the version there, through the queue; null if cancelled. */
export function planVersionDownload(space: string, region: string | null, key: string, versionId: string): Promise<PlannedDownload | null> {
  return invoke('plan_version_download', { space, region, key, versionId });
}

/** Asks which to do when files of the batch are already in the chosen folder; null stops. */
export type AskDownloadConflict = (count: number, examples: string[]) => Promise<Conflict | null>;

export interface DownloadResult {
  dest: string;
  summary: DownloadSummary;
  /** Nothing was downloaded: the user stopped at the conflict question. */
  stopped: boolean;
}

/** Asks where to save (the system's folder dialog), then plans; null if the dialog was cancelled. */
export function planDownload(space: string, region: string | null, keys: string[]): Promise<PlannedDownload | null> {
  return invoke('plan_download', { space, region, keys });
}

/** Runs a planned download; its files' progress is on the Transfers panel's rows. */
export function startDownload(batch: number, conflict: Conflict): Promise<DownloadSummary> {
  return invoke('start_download', { batch, conflict });
}

/** Starts a drag out; its download runs at once, through the queue. */
export function dragOut(space: string, region: string | null, keys: string[]): Promise<PlannedDownload> {
  return invoke('drag_out', { space, region, keys });
}

export function forgetDownload(batch: number): Promise<void> {
  return invoke('forget_download', { batch });
}

// --- DigitalOcean's CDN ---

/** Whether the Space's CDN is on, its settings, and the certificates a custom subdomain may use. */
export function cdnState(space: string, region: string | null): Promise<CdnState> {
  return invoke('cdn_state', { space, region });
}

export function enableCdn(space: string, region: string | null, settings: CdnSettings): Promise<CdnEndpoint> {
  return invoke('enable_cdn', { space, region, settings });
}

export function updateCdn(space: string, region: string | null, id: string, settings: CdnSettings): Promise<CdnEndpoint> {
  return invoke('update_cdn', { space, region, id, settings });
}

export function disableCdn(space: string, region: string | null, id: string): Promise<void> {
  return invoke('disable_cdn', { space, region, id });
}

/** Purges files and folders ("" is everything) from the edge cache; returns the paths purged. */
export function purgeCdn(space: string, region: string | null, id: string, keys: string[]): Promise<string[]> {
  return invoke('purge_cdn', { space, region, id, keys });
}

// --- Copies, moves and renames on the server ---

/** Plans copying, moving or renaming files and folders; their bytes stay on the server. */
export function planCopy(ask: CopyRequest): Promise<PlannedCopy> {
  return invoke('plan_copy', { ask });
}

/** Runs a planned copy; its files' progress is on the Transfers panel's rows. */
export function startCopy(batch: number, conflict: Conflict): Promise<CopySummary> {
  return invoke('start_copy', { batch, conflict });
}

export function forgetCopy(batch: number): Promise<void> {
  return invoke('forget_copy', { batch });
}

export interface CopyResult {
  mode: CopyMode;
  summary: CopySummary;
  /** Nothing was done: the user stopped at the question about names already taken. */
  stopped: boolean;
}

/** One line about a finished copy, move or rename, for the page. */
export function copySentence(r: CopyResult): string {
  const { done, skipped, cancelled, problems } = r.summary;
  const verb = r.mode === 'move' ? 'Moved' : 'Copied';
  const not = r.mode === 'move' ? 'Not moved' : 'Not copied';
  if (r.stopped) return `${not}: nothing was changed.`;
  const parts = [`${verb} ${done} ${done === 1 ? 'file' : 'files'}.`];
  if (skipped) parts.push(`${skipped} skipped: the name was taken.`);
  if (cancelled) parts.push(`${cancelled} cancelled.`);
  const why = (m: string) => m.replace(/^Not (moved|copied): /, '');
  if (problems.length) parts.push(`${not}: ${problems.map((p) => `${p.path} (${why(p.message)})`).join('; ')}`);
  for (const n of r.summary.notes ?? []) parts.push(`${n.path}: ${n.message}`);
  return parts.join(' ');
}

/** One line about a finished download, for the page. */
export function downloadSentence(r: DownloadResult): string {
  const { done, skipped, cancelled, problems } = r.summary;
  if (r.stopped) return 'Nothing was downloaded.';
  const parts = [`Downloaded ${done} ${done === 1 ? 'file' : 'files'} to ${r.dest}.`];
  if (skipped) parts.push(`${skipped} skipped: already there.`);
  if (cancelled) parts.push(`${cancelled} cancelled.`);
  if (problems.length) parts.push(`Not downloaded: ${problems.map((p) => `${p.path} (${p.message.replace(/^Not downloaded: /, '')})`).join('; ')}`);
  for (const n of r.summary.notes ?? []) parts.push(`${n.path}: ${n.message}`);
  return parts.join(' ');
}

// --- Access keys ---

export function listKeys(): Promise<KeysPage> {
  return invoke('list_keys');
}

/** The only answer that carries a secret: show it once, then drop it. */
/** Keeps a DigitalOcean personal access token in the keychain (for managing its keys). */
export function setApiToken(token: string): Promise<void> {
  return invoke('set_api_token', { token });
}

export function generateKey(name: string, scope: Scope): Promise<GeneratedKey> {
  return invoke('generate_key', { name, scope });
}

export function addExistingKey(name: string, accessKey: string, secret: string): Promise<void> {
  return invoke('add_existing_key', { name, accessKey, secret });
}

export function renameKey(accessKey: string, name: string): Promise<void> {
  return invoke('rename_key', { accessKey, name });
}

export function deleteKey(accessKey: string): Promise<void> {
  return invoke('delete_key', { accessKey });
}

/** Replaces the key with a new one of the same grants everywhere it is used, then revokes it. */
export function rotateKey(accessKey: string, signal?: AbortSignal): Promise<RotatedKey> {
  return stoppable(signal, (request) => invoke('rotate_key', { accessKey, request }));
}

export function rotationPlan(accessKey: string): Promise<RotationPlan> {
  return invoke('rotation_plan', { accessKey });
}

export function testKey(accessKey: string, space: string, permission: Permission | null): Promise<KeyTest> {
  return invoke('test_key', { accessKey, space, permission });
}

/** Connects with a key; for a limited key, `spaces` are the Spaces it was granted. */
export function connectWithKey(accessKey: string, name: string, spaces: string[]): Promise<Session> {
  return invoke('connect_with_key', { accessKey, name, spaces });
}

/** Opens a Space with the chosen key (null: the connection's own) and remembers that key for it. */
export function openSpaceWithKey(name: string, region: string | null, accessKey: string | null): Promise<SpaceDetails> {
  return invoke('open_space_with_key', { name, region, accessKey });
}

/** Keys whose secret the app holds, besides the connection's own. */
export function heldKeys(): Promise<HeldKey[]> {
  return invoke('held_keys');
}

/** Removes a key from the keychain only; it stays valid on its server. */
export function forgetKey(accessKey: string): Promise<void> {
  return invoke('forget_key', { accessKey });
}

// Sync pairs: a folder of this computer and a folder of a Space.
export function syncPairs(): Promise<SyncPair[]> {
  return invoke('sync_pairs');
}

export function addSyncPair(pair: NewPair, region: string | null): Promise<SyncPair> {
  return invoke('add_sync_pair', { pair, region });
}

export function removeSyncPair(id: string): Promise<void> {
  return invoke('remove_sync_pair', { id });
}

/** Scans both sides and says what a sync would do; nothing changes. */
export function planSync(id: string): Promise<SyncPlan> {
  return invoke('plan_sync', { id });
}

/** Runs a plan; one that waits for approval runs only when `approved`. */
export function runSync(plan: number, approved: boolean): Promise<SyncOutcome> {
  return invoke('run_sync', { plan, approved });
}

export function stopSync(id: string): Promise<void> {
  return invoke('stop_sync', { id });
}

/** The folder dialog; null when cancelled. */
export function pickSyncFolder(): Promise<string | null> {
  return invoke('pick_sync_folder');
}

/** When a pair syncs on its own. */
export function setSyncSchedule(id: string, schedule: SyncSchedule): Promise<SyncPair> {
  return invoke('set_sync_schedule', { id, schedule });
}
