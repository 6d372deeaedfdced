// The transfer queue: every upload of this window, its progress and its controls.
import * as backend from './backend';
import type { Conflict } from './bindings/Conflict';
import type { FileAcl } from './bindings/FileAcl';
import type { FileState } from './bindings/FileState';
import type { TransferEvent } from './bindings/TransferEvent';

export type ItemState = FileState['state'];

export interface Item {
  batch: number;
  id: number;
  space: string;
  key: string;
  size: number;
  bytes: number;
  state: ItemState;
  message: string | null;
}

interface Batch {
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

  get totalBytes(): number {
    return this.items.reduce((n, i) => (i.state === 'skipped' || i.state === 'cancelled' ? n : n + i.size), 0);
  }
  get doneBytes(): number {
    return this.items.reduce((n, i) => (i.state === 'skipped' || i.state === 'cancelled' ? n : n + i.bytes), 0);
  }
  get active(): boolean {
    return this.items.some((i) => i.state === 'queued' || i.state === 'uploading');
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
    if (e.state.state === 'uploading' || e.state.state === 'done') item.bytes = e.bytes;
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
    this.batches.set(plan.batch, { acl, conflict, onFinished });
    let problemId = -1;
    for (const p of plan.problems) {
      // Paths that can't be uploaded are shown as failed, beside the rest.
      this.items.push({ batch: plan.batch, id: problemId--, space, key: p.path, size: 0, bytes: 0, state: 'failed', message: p.message });
    }
    for (const f of plan.files) {
      this.items.push({ batch: plan.batch, id: f.id, space, key: f.key, size: f.size, bytes: 0, state: 'queued', message: null });
      // Index the reactive proxy, so later updates reach the UI.
      this.index.set(`${plan.batch}:${f.id}`, this.items[this.items.length - 1]);
    }
    await this.run(plan.batch, null);
  }

  private problemIds = -1_000_000;

  private async run(batch: number, ids: number[] | null) {
    const b = this.batches.get(batch);
    if (!b) return;
    try {
      const summary = await backend.startUpload(batch, b.acl, b.conflict, ids, (e) => this.apply(batch, e));
      for (const p of summary.problems) {
        this.items.push({ batch, id: this.problemIds--, space: '', key: p.path, size: 0, bytes: 0, state: 'failed', message: p.message });
      }
    } catch (e) {
      const error = backend.toErrorPayload(e);
      for (const item of this.items) {
        if (item.batch === batch && (item.state === 'queued' || item.state === 'uploading')) {
          item.state = 'failed';
          item.message = error.message;
        }
      }
    }
    b.onFinished();
  }

  cancel(item: Item) {
    if (item.id >= 0) backend.cancelUpload(item.batch, item.id);
  }

  cancelAll() {
    for (const batch of new Set(this.items.filter((i) => i.state === 'queued' || i.state === 'uploading').map((i) => i.batch))) {
      backend.cancelUpload(batch, null);
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
    this.items = this.items.filter((i) => i.state === 'queued' || i.state === 'uploading');
    this.index = new Map(this.items.map((i) => [`${i.batch}:${i.id}`, i]));
  }
}

export const queue = new TransferQueue();
