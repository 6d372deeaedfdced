import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi, beforeEach } from 'vitest';
import CreateSpace from './CreateSpace.svelte';
import * as backend from '../lib/backend';
import type { RuleCheck } from '../lib/bindings/RuleCheck';

vi.mock('../lib/backend', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/backend')>()),
  createOptions: vi.fn(),
  checkSpaceName: vi.fn(),
  spaceAvailability: vi.fn(),
  createSpace: vi.fn(),
  assignSpaceToProject: vi.fn(),
  spaceDetails: vi.fn(),
}));

// The rules themselves are Rust's (unit-tested there); here a stand-in that fails on dots.
function rules(name: string): RuleCheck[] {
  return [
    { rule: 'length', ok: name.length >= 3, text: '3 to 63 characters' },
    { rule: 'noDots', ok: !name.includes('.'), text: 'No dots' },
  ];
}

// A DigitalOcean connection's options: one region, two projects.
const withProjects = {
  regions: [{ slug: 'nyc3', label: 'New York · nyc3' }],
  defaultRegion: 'nyc3',
  projects: [
    { id: 'p-default', name: 'First project', isDefault: true },
    { id: 'p-sites', name: 'Client sites', isDefault: false },
  ],
  projectsProblem: null,
};

describe('CreateSpace', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    vi.mocked(backend.createOptions).mockResolvedValue({
      regions: [
        { slug: 'nyc3', label: 'New York · nyc3' },
        { slug: 'fra1', label: 'Frankfurt · fra1' },
      ],
      defaultRegion: 'fra1',
      projects: [],
      projectsProblem: null,
    });
    vi.mocked(backend.checkSpaceName).mockImplementation(async (n) => rules(n));
  });

  it('shows the failing rule and keeps Create disabled', async () => {
    render(CreateSpace, { onCreated: vi.fn(), onCancel: vi.fn() });
    await waitFor(() => expect((document.querySelector('input[value="fra1"]') as HTMLInputElement).checked).toBe(true));
    await fireEvent.input(document.getElementById('space-name') as HTMLInputElement, { target: { value: 'my.space' } });
    await waitFor(() => expect(document.querySelector('[data-rule="noDots"]')?.getAttribute('data-ok')).toBe('false'));
    expect((document.getElementById('create-space-submit') as HTMLButtonElement).disabled).toBe(true);
    expect(backend.spaceAvailability).not.toHaveBeenCalled();
  });

  it('checks availability after a pause, then creates with the chosen listing and region', async () => {
    vi.mocked(backend.spaceAvailability).mockResolvedValue('free');
    const details = {
      name: 'my-space',
      region: 'fra1',
      fileListing: 'enabled' as const,
      urls: { origin: 'o', server: 's', pathStyle: 'p', cdn: null },
      opensWith: null,
      limited: false,
    };
    vi.mocked(backend.createSpace).mockResolvedValue(details);
    const onCreated = vi.fn();
    render(CreateSpace, { onCreated, onCancel: vi.fn() });
    await waitFor(() => expect(backend.createOptions).toHaveBeenCalled());
    await fireEvent.input(document.getElementById('space-name') as HTMLInputElement, { target: { value: 'my-space' } });
    await waitFor(() => expect(document.getElementById('name-availability')?.getAttribute('data-state')).toBe('free'), { timeout: 2000 });
    expect(backend.spaceAvailability).toHaveBeenCalledWith('my-space', 'fra1');
    await fireEvent.click(document.getElementById('listing-enabled') as HTMLInputElement);
    await fireEvent.click(screen.getByText('Create a Space', { selector: 'button' }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(details));
    expect(backend.createSpace).toHaveBeenCalledWith('my-space', 'fra1', 'enabled', null);
    // No projects outside DigitalOcean: no picker.
    expect(document.getElementById('space-project')).toBeNull();
  });

  it('refuses a name another user has', async () => {
    vi.mocked(backend.spaceAvailability).mockResolvedValue('taken');
    render(CreateSpace, { onCreated: vi.fn(), onCancel: vi.fn() });
    await waitFor(() => expect(backend.createOptions).toHaveBeenCalled());
    await fireEvent.input(document.getElementById('space-name') as HTMLInputElement, { target: { value: 'popular' } });
    await waitFor(() => expect(document.getElementById('name-availability')?.textContent).toContain('Taken by another user'), {
      timeout: 2000,
    });
    expect((document.getElementById('create-space-submit') as HTMLButtonElement).disabled).toBe(true);
  });

  it('puts the Space in the chosen project, and offers to try again when that failed', async () => {
    vi.mocked(backend.createOptions).mockResolvedValue(withProjects);
    vi.mocked(backend.spaceAvailability).mockResolvedValue('free');
    vi.mocked(backend.createSpace).mockRejectedValue({ kind: 'projectNotAssigned', message: 'The Space “my-space” was created, but it could not be put in the project “Client sites”.' });
    const details = { name: 'my-space', region: 'nyc3', fileListing: 'restricted' as const, urls: { origin: 'o', server: 's', pathStyle: 'p', cdn: null }, opensWith: null, limited: false };
    vi.mocked(backend.assignSpaceToProject).mockResolvedValue();
    vi.mocked(backend.spaceDetails).mockResolvedValue(details);
    const onCreated = vi.fn();
    render(CreateSpace, { onCreated, onCancel: vi.fn() });
    const picker = await waitFor(() => {
      const found = document.getElementById('space-project');
      expect(found).not.toBeNull();
      return found as HTMLSelectElement;
    });
    expect(picker.value).toBe('p-default');
    await fireEvent.change(picker, { target: { value: 'p-sites' } });
    await fireEvent.input(document.getElementById('space-name') as HTMLInputElement, { target: { value: 'my-space' } });
    await waitFor(() => expect(document.getElementById('name-availability')?.getAttribute('data-state')).toBe('free'), { timeout: 2000 });
    await fireEvent.click(screen.getByText('Create a Space', { selector: 'button' }));
    await waitFor(() => expect(document.getElementById('create-error')?.dataset.kind).toBe('projectNotAssigned'));
    expect(backend.createSpace).toHaveBeenCalledWith('my-space', 'nyc3', 'restricted', 'p-sites');
    await fireEvent.click(document.getElementById('retry-project') as HTMLButtonElement);
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(details));
    expect(backend.assignSpaceToProject).toHaveBeenCalledWith('my-space', 'p-sites');
  });

  it('says why there is no project to choose', async () => {
    vi.mocked(backend.createOptions).mockResolvedValue({
      regions: [{ slug: 'nyc3', label: 'New York · nyc3' }],
      defaultRegion: 'nyc3',
      projects: [],
      projectsProblem: 'To put the Space in a project, save a DigitalOcean API token on the Access keys page.',
    });
    render(CreateSpace, { onCreated: vi.fn(), onCancel: vi.fn() });
    const said = await waitFor(() => {
      const found = document.getElementById('projects-problem');
      expect(found).not.toBeNull();
      return found as HTMLElement;
    });
    expect(said.textContent).toContain('default project');
    expect(document.getElementById('space-project')).toBeNull();
  });

  it('asks for no project when the default one is chosen', async () => {
    vi.mocked(backend.createOptions).mockResolvedValue(withProjects);
    vi.mocked(backend.spaceAvailability).mockResolvedValue('free');
    const details = { name: 'my-space', region: 'nyc3', fileListing: 'restricted' as const, urls: { origin: 'o', server: 's', pathStyle: 'p', cdn: null }, opensWith: null, limited: false };
    vi.mocked(backend.createSpace).mockResolvedValue(details);
    render(CreateSpace, { onCreated: vi.fn(), onCancel: vi.fn() });
    await waitFor(() => expect(document.getElementById('space-project')).not.toBeNull());
    await fireEvent.input(document.getElementById('space-name') as HTMLInputElement, { target: { value: 'my-space' } });
    await waitFor(() => expect(document.getElementById('name-availability')?.getAttribute('data-state')).toBe('free'), { timeout: 2000 });
    await fireEvent.click(screen.getByText('Create a Space', { selector: 'button' }));
    await waitFor(() => expect(backend.createSpace).toHaveBeenCalledWith('my-space', 'nyc3', 'restricted', null));
  });
});
