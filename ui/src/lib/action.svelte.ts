// One action at a time, with its busy flag and the error it ended with: shared by every page
// that runs commands from buttons and forms.
import { toErrorPayload } from './backend';
import type { ErrorPayload } from './bindings/ErrorPayload';

export class Action {
  busy = $state(false);
  error: ErrorPayload | null = $state(null);

  /** Runs `f`, busy until it ends; its error (if any) is kept. True when it succeeded. */
  async run(f: () => Promise<void>): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      await f();
      return true;
    } catch (e) {
      this.error = toErrorPayload(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** Shows an error that came from elsewhere (a load, a check before sending). */
  fail(e: unknown) {
    this.error = toErrorPayload(e);
  }
}
