// The transfer queue: every upload and download of this window, its progress and its controls.
import * as backend from './backend';
import type { Conflict } from './bindings/Conflict';
import type { FileAcl } from './bindings/FileAcl';
import type { FileState } from './bindings/FileState';
import type { TransferRow } from './bindings/TransferRow';
import type { TransfersChanged } from './bindings/TransfersChanged';
import type { Direction } from './bindings/Direction';
import type { CopyRequest } from './bindings/CopyRequest';

export type ItemState = FileState['state'];
export type { Direction };

/** A row of the engine's queue, as the panel shows it. */
export interface Item {
  row: number;
  batch: number;
  /** The file's id in its batch; null for what the plan found can't be moved. */
  id: number | null;
  direction: Direction;
  space: string;
  key: string;
  /** Where a copy or move puts the file. */
  to: string | null;
  size: number;
  bytes: number;
  state: ItemState;
  message: string | null;
}

function toItem(r: TransferRow): Item {
  return {
    row: r.row,
    batch: r.batch,
    id: r.file,
    direction: r.direction,
    space: r.space,
    key: r.key,
    to: r.to,
    size: r.size,
    bytes: r.bytes,
    state: r.state.state,
    message: r.state.state === 'failed' ? r.state.message : null,
  };
}

/** Asks the user what to do with files that already exist; null cancels the upload. */
export type AskConflict = (count: number) => Promise<Conflict | null>;

/**
 * The Transfers panel's view of the engine's queue: the rows are the engine's, handed over once
 * and then as they change; Cancel, Retry and Clear act there. The page keeps only what it does
 * when a batch it started ends (refresh a listing).
 */
export class TransferQueue {
  items: Item[] = $state([]);
  /** Bytes per second, smoothed. */
  rate = $state(0);
  private at = new Map<number, number>();
  private finished = new Map<number, () => void>();
  private lastSample: { at: number; bytes: number } | null = null;
  private watching: Promise<void> | null = null;

  /** Shows the engine's queue: every row now, then each change. */
  watch(): Promise<void> {
    this.watching ??= (async () => {
      // Changes can come before the rows they change: they wait for them.
      let early: TransfersChanged[] | null = [];
      const rows = await backend.watchTransfers((c) => (early ? early.push(c) : this.changed(c)));
      this.items = rows.map(toItem);
      this.reindex();
      for (const c of early) this.changed(c);
      early = null;
    })();
    return this.watching;
  }

  private reindex() {
    this.at = new Map(this.items.map((i, n) => [i.row, n]));
  }

  private changed(c: TransfersChanged) {
    for (const r of c.rows) {
      const n = this.at.get(r.row);
      if (n === undefined) {
        this.at.set(r.row, this.items.length);
        this.items.push(toItem(r));
      } else {
        this.items[n] = toItem(r);
      }
    }
    if (c.removed.length > 0) {
      const gone = new Set(c.removed);
      this.items = this.items.filter((i) => !gone.has(i.row));
      this.reindex();
    }
  }

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
    await this.run(plan.batch, onFinished, () => backend.startUpload(plan.batch, acl, conflict));
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
    const summary = await this.run(plan.batch, () => {}, () => backend.startDownload(plan.batch, conflict));
    return { dest: plan.dest, stopped: false, summary: { ...summary, problems: [...plan.problems, ...summary.problems] } };
  }

  /**
   * Asks where to save one version of a file, then saves it through the queue, beside (never
   * over) a file of that name. Null if the folder dialog was cancelled.
   */
  async downloadVersion(space: string, region: string | null, key: string, versionId: string): Promise<backend.DownloadResult | null> {
    const plan = await backend.planVersionDownload(space, region, key, versionId);
    if (!plan) return null;
    const summary = await this.run(plan.batch, () => {}, () => backend.startDownload(plan.batch, 'keepBoth'));
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
    const summary = await this.run(plan.batch, onFinished, () => backend.startCopy(plan.batch, conflict));
    return { mode: ask.mode, stopped: false, summary: { ...summary, problems: [...plan.problems, ...summary.problems] } };
  }

  /** Set while files dragged out of the window may pass over it. */
  draggingOut = $state(false);
  /** Staging folders of drags out: dropped back onto the window, they are not an upload. */
  private staging: string[] = [];

  /** Drags files and folders out of the window; they download through the queue meanwhile. */
  async dragOut(space: string, region: string | null, keys: string[]): Promise<void> {
    this.draggingOut = true;
    const plan = await backend.dragOut(space, region, keys);
    this.staging.push(plan.dest);
    this.dragged = { space, region, keys, batch: plan.batch, dest: plan.dest };
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
    backend.clearTransfers(d.batch).catch(() => {});
    return { space: d.space, region: d.region, keys: d.keys };
  }

  isStaged(paths: string[]): boolean {
    return paths.length > 0 && paths.every((p) => this.staging.some((s) => p === s || p.startsWith(`${s}/`)));
  }

  /**
   * Runs a batch's first run; `onFinished` runs after it and after each retry. An error after
   * the batch's rows are up is on its rows; one before is thrown.
   */
  private async run<T>(batch: number, onFinished: () => void, start: () => Promise<T>): Promise<T> {
    this.finished.set(batch, onFinished);
    try {
      return await start();
    } finally {
      onFinished();
    }
  }

  cancel(item: Item) {
    if (item.id !== null) backend.cancelTransfer(item.batch, item.id).catch(() => {});
  }

  cancelAll() {
    for (const batch of new Set(this.items.filter((i) => i.state === 'queued' || i.state === 'running').map((i) => i.batch))) {
      backend.cancelTransfer(batch, null).catch(() => {});
    }
  }

  /** Runs again every file that failed or was cancelled, each batch with its first choices. */
  /** Batches with files to run again, none of whose files is still on its way. */
  get retryable(): number[] {
    const busy = new Set(this.items.filter((i) => i.state === 'queued' || i.state === 'running').map((i) => i.batch));
    // A restore is not tried again from here: it was agreed for the file as it was then.
    const ended = this.items.filter(
      (i) => (i.state === 'failed' || i.state === 'cancelled') && i.id !== null && i.direction !== 'restore' && !busy.has(i.batch),
    );
    return [...new Set(ended.map((i) => i.batch))];
  }

  async retryFailed() {
    const batches = this.retryable;
    await Promise.all(
      [...batches].map(async (batch) => {
        // A retry that can't run says why on its rows.
        await backend.retryTransfer(batch).catch(() => 0);
        this.finished.get(batch)?.();
      }),
    );
  }

  async clearFinished() {
    await backend.clearTransfers(null);
  }
}

export const queue = new TransferQueue();
