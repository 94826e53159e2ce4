// browser.mjs — what every browser test shares: Debian's Chromium driven by playwright-core,
// headless, with the flags that keep it off the (closed) network, and the built studio.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { startServer } from '../tools/serve.mjs';

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

/// The built studio served by tools/serve.mjs on a free port, and a Chromium; both are closed when
/// the test `t` ends. Returns {browser, port, base}.
export async function studioInBrowser(t) {
  const { server, port } = await startServer({ port: 0, host: '127.0.0.1' });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { browser, port, base: `http://127.0.0.1:${port}/` };
}

/// The page's uncaught errors and console errors as they come (CSP reports of inline styles in
/// CodeMirror's contenteditable aside): a test asserts the list stays empty.
export function pageProblems(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Applying inline style violates/.test(m.text())) problems.push(m.text());
  });
  return problems;
}

/// Waits until the studio says it is ready (body[data-ready]) and fails with what the page shows
/// when it is not.
export async function studioReady(page) {
  await page.waitForSelector('body[data-ready]', { timeout: 20_000 });
  const state = await page.getAttribute('body', 'data-ready');
  if (state !== 'true') assert.fail(`the studio did not start: ${await page.textContent('#view')}`);
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/// Builds a throwaway page with Vite: `html` and `main` (the page's module) are written under
/// `dir`/src, bundled into `dir`/dist; resolves to the dist folder. `target` is Vite's build target.
export async function buildTestPage(dir, { html, main, target }) {
  const { build } = await import('vite');
  const src = path.join(dir, 'src');
  await mkdir(src, { recursive: true });
  await writeFile(path.join(src, 'index.html'), html);
  await writeFile(path.join(src, 'main.js'), main);
  const out = path.join(dir, 'dist');
  await build({
    root: src,
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    cacheDir: path.join(dir, 'cache'),
    build: { outDir: out, emptyOutDir: true, minify: false, reportCompressedSize: false,
      assetsInlineLimit: 0, modulePreload: { polyfill: false }, ...(target ? { target } : {}) },
  });
  return out;
}

/// A static server on a free local port for a built test page: every answer carries `headers`;
/// `dir` answers '/' with index.html; `routes` maps a path prefix to another folder (its files by
/// base name). Paths leaving their folder are refused (403), missing files are 404.
export function serveFiles(dir, { headers = {}, routes = {} } = {}) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, headers).end();
      return;
    }
    const prefix = Object.keys(routes).find((p) => url.pathname.startsWith(p));
    const root = prefix ? routes[prefix] : dir;
    const file = prefix
      ? path.join(root, path.basename(url.pathname))
      : path.join(dir, url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, ''));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403, headers).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404, headers).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/// Replaces the model pool in Settings with `yaml` and saves it (the page reloads when the pool
/// names a new address: the page's connect-src policy follows the pool); resolves once the studio
/// is ready again and shows the pool's first model `expect`.
export async function useModelPool(page, yaml, expect) {
  await page.click('[data-testid=nav-settings]');
  await page.waitForSelector('[data-testid=yaml-editor]');
  await page.click('[data-testid=yaml-editor] .cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(yaml);
  const saved = page.waitForEvent('load');
  await page.click('[data-testid=save-models]:not([disabled])');
  await saved;
  await studioReady(page);
  await page.waitForSelector(`[data-testid="model-${expect}"]`);
}

/// Adds a knowledge entry through the Knowledge panel (which must be open) and waits for it in the list.
export async function addKnowledgeEntry(page, { name, aliases = '', category, inclusion, chapter = '', text }) {
  await page.click('[data-testid=kb-new]');
  await page.fill('[data-testid=kb-name]', name);
  await page.fill('[data-testid=kb-aliases]', aliases);
  await page.selectOption('[data-testid=kb-category]', category);
  await page.selectOption('[data-testid=kb-inclusion]', inclusion);
  await page.fill('[data-testid=kb-chapter]', chapter);
  await page.fill('[data-testid=kb-text]', text);
  await page.click('[data-testid=kb-save]');
  await page.waitForSelector(`[data-testid="kb-entry-${name}"]`);
}
