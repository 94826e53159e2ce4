// browser.mjs — what every browser test shares: Debian's Chromium driven by playwright-core,
// headless, with the flags that keep it off the (closed) network, and the built studio.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/// Why a test of the built studio cannot run here (for node:test's `skip`), or false.
export function studioSkip() {
  if (!existsSync(CHROMIUM)) return `no ${CHROMIUM}`;
  if (!existsSync(new URL('../build/web/index.html', import.meta.url))) return 'no build/web (tools/build --web)';
  return false;
}

/// Chromium, headless.
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/// Waits until the studio says it is ready (body[data-ready]) and fails with what the page shows
/// when it is not.
export async function studioReady(page) {
  await page.waitForSelector('body[data-ready]', { timeout: 20_000 });
  const state = await page.getAttribute('body', 'data-ready');
  if (state !== 'true') assert.fail(`the studio did not start: ${await page.textContent('#view')}`);
}
