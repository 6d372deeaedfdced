// The transfer queue: every upload and download of this window, its progress and its controls.
import * as backend from './backend';
import type { Conflict } from './bindings/Conflict';
import type { FileAcl } from './bindings/FileAcl';
import type { FileState } from './bindings/FileState';
import type { TransferEvent } from './bindings/TransferEvent';
import type { DownloadSummary } from './bindings/DownloadSummary';
import type { CopyRequest } from './bindings/CopyRequest';

export type ItemState = FileState['state'];

/** Copies and moves run on the server: their bytes never pass through this computer. */
export type Direction = 'upload' | 'download' | 'copy' | 'move';

export interface Item {
  batch: number;
  id: number;
  direction: Direction;
  space: string;
  key: string;
  /** Where a copy or move puts the file. */
  to?: string;
  size: number;
  bytes: number;
  state: ItemState;
  message: string | null;
}

interface Batch {
  direction: Direction;
  acl: FileAcl;
  /** The choice made for files already there: a retry keeps it. */
  conflict: Conflict;
  onFinished: () => void;
}

/** Asks the user what to do with files that already exist; null cancels the upload. */
export type AskConflict = (count: number) => Promise<Conflict | null>;

export class TransferQueue {
  items: Item[] = $state([]);
  /** Bytes per second, smoothed. */
  rate = $state(0);
  private index = new Map<string, Item>();
  private batches = new Map<number, Batch>();
  private lastSample: { at: number; bytes: number } | null = null;
  /** Ids of rows that are not files of a batch (what can't be moved, and why). */
  private problemIds = -1;

  get totalBytes(): number {
    return this.items.reduce((n, i) => (i.state === 'skipped' || i.state === 'cancelled' ? n : n + i.size), 0);
  }
  get doneBytes(): number {
    return this.items.reduce((n, i) => (i.state === 'skipped' || i.state === 'cancelled' ? n : n + i.bytes), 0);
  }
  get active(): boolean {
    return this.items.some((i) => i.state === 'queued' || i.state === 'running');
  }
  count(state: ItemState): number {
    return this.items.filter((i) => i.state === state).length;
  }
  /** Seconds left at the current rate, or null when unknown. */
  get secondsLeft(): number | null {
    const left = this.totalBytes - this.doneBytes;
    return this.rate > 0 && this.active ? left / this.rate : null;
  }

  /** Called about once a second while something uploads. */
  sample(now = performance.now()) {
    const bytes = this.doneBytes;
    if (this.lastSample && now > this.lastSample.at) {
      const current = ((bytes - this.lastSample.bytes) * 1000) / (now - this.lastSample.at);
      this.rate = this.rate === 0 ? current : this.rate * 0.6 + current * 0.4;
    }
    this.lastSample = { at: now, bytes };
    if (!this.active) {
      this.rate = 0;
      this.lastSample = null;
    }
  }

  private apply(batch: number, e: TransferEvent) {
    const item = this.index.get(`${batch}:${e.id}`);
    if (!item) return;
    item.state = e.state.state;
    if (e.state.state === 'running' || e.state.state === 'done') item.bytes = e.bytes;
    else if (e.state.state !== 'failed') item.bytes = 0;
    if (e.state.state === 'failed') {
      item.message = e.state.message;
      item.bytes = 0;
    }
  }

  /** Plans and runs an upload of local paths into `prefix` of a Space. */
  async upload(
    space: string,
    region: string | null,
    prefix: string,
    paths: string[],
    acl: FileAcl,
    ask: AskConflict,
    onFinished: () => void,
  ): Promise<void> {
    const plan = await backend.planUpload(space, region, prefix, paths);
    const existing = plan.files.filter((f) => f.exists).length;
    let conflict: Conflict = 'overwrite';
    if (existing > 0) {
      const answer = await ask(existing);
      if (answer === null) return;
      conflict = answer;
    }
    this.batches.set(plan.batch, { direction: 'upload', acl, conflict, onFinished });
    this.enqueue(plan.batch, 'upload', space, plan.files, plan.problems);
    await this.run(plan.batch, null);
  }

  /**
   * Asks where to save, plans, asks about files already there, then downloads through the
   * queue. Null if the folder dialog was cancelled.
   */
  async download(
    space: string,
    region: string | null,
    keys: string[],
    ask: backend.AskDownloadConflict,
  ): Promise<backend.DownloadResult | null> {
    const plan = await backend.planDownload(space, region, keys);
    if (!plan) return null;
    let conflict: Conflict = 'overwrite';
    if (plan.existingCount > 0) {
      const answer = await ask(plan.existingCount, plan.existing);
      if (!answer) {
        await backend.forgetDownload(plan.batch);
        return { dest: plan.dest, stopped: true, summary: { done: 0, skipped: 0, cancelled: 0, problems: plan.problems, notes: [] } };
      }
      conflict = answer;
    }
    this.batches.set(plan.batch, { direction: 'download', acl: 'private', conflict, onFinished: () => {} });
    this.enqueue(plan.batch, 'download', space, plan.files, plan.problems);
    const summary = (await this.run(plan.batch, null)) ?? { done: 0, skipped: 0, cancelled: 0, problems: [], notes: [] };
    return { dest: plan.dest, stopped: false, summary: { ...summary, problems: [...plan.problems, ...summary.problems] } };
  }

  /**
   * Asks where to save one version of a file, then saves it through the queue, beside (never
   * over) a file of that name. Null if the folder dialog was cancelled.
   */
  async downloadVersion(space: string, region: string | null, key: string, versionId: string): Promise<backend.DownloadResult | null> {
    const plan = await backend.planVersionDownload(space, region, key, versionId);
    if (!plan) return null;
    this.batches.set(plan.batch, { direction: 'download', acl: 'private', conflict: 'keepBoth', onFinished: () => {} });
    this.enqueue(plan.batch, 'download', space, plan.files, plan.problems);
    const summary = (await this.run(plan.batch, null)) ?? { done: 0, skipped: 0, cancelled: 0, problems: [], notes: [] };
    return { dest: plan.dest, stopped: false, summary: { ...summary, problems: [...plan.problems, ...summary.problems] } };
  }

  /**
   * Plans a copy, move or rename on the server, asks about names already taken, then runs it
   * through the queue.
   */
  async copy(ask: CopyRequest, askTaken: backend.AskDownloadConflict, onFinished: () => void): Promise<backend.CopyResult> {
    const plan = await backend.planCopy(ask);
    let conflict: Conflict = 'overwrite';
    if (plan.existingCount > 0) {
      const answer = await askTaken(plan.existingCount, plan.existing);
      if (!answer) {
        await backend.forgetCopy(plan.batch);
        return { mode: ask.mode, stopped: true, summary: { done: 0, skipped: 0, cancelled: 0, problems: plan.problems, renamed: [], notes: [] } };
      }
      conflict = answer;
    }
    const problems = plan.problems.map((p) => ({ path: p.path, message: p.message }));
    this.batches.set(plan.batch, { direction: ask.mode, acl: 'private', conflict, onFinished });
    this.enqueue(plan.batch, ask.mode, ask.toSpace, plan.files, problems);
    const summary = (await this.run(plan.batch, null)) ?? { done: 0, skipped: 0, cancelled: 0, problems: [], notes: [] };
    return { mode: ask.mode, stopped: false, summary: { renamed: [], ...summary, problems: [...plan.problems, ...summary.problems] } };
  }

  /** Set while files dragged out of the window may pass over it. */
  draggingOut = $state(false);
  /** Staging folders of drags out: dropped back onto the window, they are not an upload. */
  private staging: string[] = [];

  /** Drags files and folders out of the window; they download through the queue meanwhile. */
  async dragOut(space: string, region: string | null, keys: string[]): Promise<void> {
    this.draggingOut = true;
    // The download starts with the drag, before the plan is back here: early events wait.
    let batch: number | null = null;
    const early: TransferEvent[] = [];
    const onEvent = (e: TransferEvent) => (batch === null ? early.push(e) : this.apply(batch, e));
    const plan = await backend.dragOut(space, region, keys, onEvent);
    this.staging.push(plan.dest);
    this.dragged = { space, region, keys, batch: plan.batch, dest: plan.dest };
    this.batches.set(plan.batch, { direction: 'download', acl: 'private', conflict: 'overwrite', onFinished: () => {} });
    this.enqueue(plan.batch, 'download', space, plan.files, plan.problems);
    batch = plan.batch;
    for (const e of early.splice(0)) this.apply(plan.batch, e);
  }

  /** The last drag out, until it is dropped. */
  private dragged: { space: string; region: string | null; keys: string[]; batch: number; dest: string } | null = null;

  /**
   * Files dragged out and dropped back onto the window: their download to the staging folder is
   * stopped and its rows go. Returns what was dragged (to move it if dropped onto a folder).
   */
  droppedBack(paths: string[]): { space: string; region: string | null; keys: string[] } | null {
    const d = this.dragged;
    if (!d || !paths.some((p) => p === d.dest || p.startsWith(`${d.dest}/`))) return null;
    this.dragged = null;
    backend.cancelDownload(d.batch, null).catch(() => {});
    this.items = this.items.filter((i) => i.batch !== d.batch);
    this.index = new Map(this.items.map((i) => [`${i.batch}:${i.id}`, i]));
    return { space: d.space, region: d.region, keys: d.keys };
  }

  isStaged(paths: string[]): boolean {
    return paths.length > 0 && paths.every((p) => this.staging.some((s) => p === s || p.startsWith(`${s}/`)));
  }

  /** Shows a batch's files as queued, and what can't be moved as failed beside them. */
  private enqueue(
    batch: number,
    direction: Direction,
    space: string,
    files: { id: number; key: string; size: number; to?: string }[],
    problems: { path: string; message: string }[],
  ) {
    for (const p of problems) {
      this.items.push({ batch, id: this.problemIds--, direction, space, key: p.path, size: 0, bytes: 0, state: 'failed', message: p.message });
    }
    for (const f of files) {
      this.items.push({ batch, id: f.id, direction, space, key: f.key, to: f.to, size: f.size, bytes: 0, state: 'queued', message: null });
      // Index the reactive proxy, so later updates reach the UI.
      this.index.set(`${batch}:${f.id}`, this.items[this.items.length - 1]);
    }
  }

  /** Runs a batch (or, with `ids`, those files again); a download's or copy's summary is returned. */
  private async run(batch: number, ids: number[] | null): Promise<DownloadSummary | null> {
    const b = this.batches.get(batch);
    if (!b) return null;
    const onEvent = (e: TransferEvent) => this.apply(batch, e);
    let downloaded: DownloadSummary | null = null;
    try {
      if (b.direction === 'copy' || b.direction === 'move') {
        const copied = await backend.startCopy(batch, b.conflict, ids, onEvent);
        // Keep both gave some files a numbered name: the rows say where they went.
        for (const [id, to] of copied.renamed) {
          const item = this.index.get(`${batch}:${id}`);
          if (item) item.to = to;
        }
        downloaded = copied;
      } else if (b.direction === 'download') {
        // Failed files are told through their events, with why.
        downloaded = await backend.startDownload(batch, b.conflict, ids, onEvent);
      } else {
        const summary = await backend.startUpload(batch, b.acl, b.conflict, ids, onEvent);
        for (const p of summary.problems) {
          this.items.push({ batch, id: this.problemIds--, direction: 'upload', space: '', key: p.path, size: 0, bytes: 0, state: 'failed', message: p.message });
        }
      }
    } catch (e) {
      const error = backend.toErrorPayload(e);
      for (const item of this.items) {
        if (item.batch === batch && (item.state === 'queued' || item.state === 'running')) {
          item.state = 'failed';
          item.message = error.message;
        }
      }
    }
    b.onFinished();
    return downloaded;
  }

  private cancelIn(batch: number, id: number | null) {
    const direction = this.batches.get(batch)?.direction;
    if (direction === 'copy' || direction === 'move') return backend.cancelCopy(batch, id);
    return direction === 'download' ? backend.cancelDownload(batch, id) : backend.cancelUpload(batch, id);
  }

  cancel(item: Item) {
    if (item.id >= 0) this.cancelIn(item.batch, item.id);
  }

  cancelAll() {
    for (const batch of new Set(this.items.filter((i) => i.state === 'queued' || i.state === 'running').map((i) => i.batch))) {
      this.cancelIn(batch, null);
    }
  }

  async retryFailed() {
    const byBatch = new Map<number, number[]>();
    for (const i of this.items) {
      if ((i.state === 'failed' || i.state === 'cancelled') && i.id >= 0) {
        i.state = 'queued';
        i.message = null;
        i.bytes = 0;
        byBatch.set(i.batch, [...(byBatch.get(i.batch) ?? []), i.id]);
      }
    }
    await Promise.all([...byBatch].map(([batch, ids]) => this.run(batch, ids)));
  }

  clearFinished() {
    this.items = this.items.filter((i) => i.state === 'queued' || i.state === 'running');
    this.index = new Map(this.items.map((i) => [`${i.batch}:${i.id}`, i]));
  }
}

export const queue = new TransferQueue();
