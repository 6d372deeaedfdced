import { describe, expect, it } from 'vitest';
import { Action } from './action.svelte';

describe('Action', () => {
  it('is busy while it runs and keeps the error it ended with', async () => {
    const action = new Action();
    let release!: () => void;
    const running = action.run(() => new Promise<void>((r) => (release = r)));
    expect(action.busy).toBe(true);
    release();
    expect(await running).toBe(true);
    expect(action.busy).toBe(false);
    expect(action.error).toBeNull();

    const failed = await action.run(async () => {
      throw { kind: 'accessDenied', message: 'No.' };
    });
    expect(failed).toBe(false);
    expect(action.busy).toBe(false);
    expect(action.error).toEqual({ kind: 'accessDenied', message: 'No.' });
  });
});
