import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

export default defineConfig({
  // svelteTesting: browser builds of Svelte under vitest, and cleanup after each test
  plugins: [svelte(), svelteTesting()],
  // Tauri serves the built files itself; relative paths keep them loadable from its custom protocol.
  base: './',
  clearScreen: false,
  build: {
    target: 'safari16',
    outDir: 'dist',
    emptyOutDir: true,
    // Keep inline-free output: the CSP allows scripts and styles from the app only.
    assetsInlineLimit: 0,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
  },
});
