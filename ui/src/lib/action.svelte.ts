// One action at a time, with its busy flag and the error it ended with: shared by every page
// that runs commands from buttons and forms.
import { toErrorPayload } from './backend';
import type { ErrorPayload } from './bindings/ErrorPayload';

export class Action {
  busy = $state(false);
  error: ErrorPayload | null = $state(null);
  private running: AbortController | null = null;

  /**
   * Runs `f`, busy until it ends; its error (if any) is kept. True when it succeeded. `f` gets a
   * signal that `stop()` aborts: a command given it is stopped in the app too, and a stopped
   * action leaves no error (the user asked for it).
   */
  async run(f: (signal: AbortSignal) => Promise<void>): Promise<boolean> {
    const controller = new AbortController();
    this.running = controller;
    this.busy = true;
    this.error = null;
    try {
      await f(controller.signal);
      return true;
    } catch (e) {
      if (!controller.signal.aborted) this.error = toErrorPayload(e);
      return false;
    } finally {
      if (this.running === controller) {
        this.running = null;
        this.busy = false;
      }
    }
  }

  /** Stops the action running now, if any (a Stop button, or its page going away). */
  stop() {
    this.running?.abort();
    this.running = null;
    this.busy = false;
  }

  /** Shows an error that came from elsewhere (a load, a check before sending). */
  fail(e: unknown) {
    this.error = toErrorPayload(e);
  }
}
