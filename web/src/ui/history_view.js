// history_view.js — every run kept in this browser, newest first.
import { el, formatCost, formatDuration, formatTime, formatTokens } from './dom.js';

/// Draws the run history into `root`. Returns {destroy()}.
export async function historyView(root, ctx) {
  const { storage, runs } = ctx;
  const body = el('tbody');
  const usage = el('p', { cls: 'note', attrs: { 'data-testid': 'storage-usage' } });
  root.replaceChildren(el('section', { cls: 'panel' }, [
    el('div', { cls: 'panel-head' }, [el('h2', { text: 'Runs' })]),
    el('table', { cls: 'history', attrs: { 'data-testid': 'run-history' } }, [
      el('thead', {}, [el('tr', {}, ['started', 'workflow', 'status', 'time', 'tokens', 'cost', ''].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
      body,
    ]),
    usage,
  ]));

  async function draw() {
    let list;
    try {
      list = await storage.listRuns({ limit: 200 });
    } catch (e) {
      ctx.notify(e);
      return;
    }
    if (!list.length) {
      body.replaceChildren(el('tr', {}, [el('td', { attrs: { colspan: '7' }, text: 'No runs yet. Open a workflow and run it.' })]));
    } else {
      body.replaceChildren(...list.map((r) => el('tr', { cls: `status-${r.status}`, attrs: { 'data-testid': `history-${r.id}`, 'data-status': r.status } }, [
        el('td', {}, [el('a', { text: formatTime(r.started), attrs: { href: `#/runs/${r.id}` } })]),
        el('td', { text: r.workflow }),
        el('td', { text: `${r.status}${runs.isLive(r.id) ? ' (here)' : ''}` }),
        el('td', { text: r.finished ? formatDuration(r.finished - r.started) : '' }),
        el('td', { text: formatTokens(r.usage) }),
        el('td', { text: formatCost(r.cost_usd) }),
        el('td', {}, [runs.isLive(r.id) ? '' : el('button', {
          text: 'Delete', cls: 'secondary small', attrs: { type: 'button', 'aria-label': `Delete the run of ${r.workflow} from ${formatTime(r.started)}` },
          on: { click: () => remove(r) },
        })]),
      ])));
    }
    const est = await storage.estimate().catch(() => null);
    usage.textContent = est?.quota
      ? `This browser keeps ${(est.usage / 1e6).toFixed(1)} MB for Loom of the ${(est.quota / 1e6).toFixed(0)} MB it allows.`
      : '';
  }

  async function remove(r) {
    if (!confirm(`Delete this run of ${r.workflow} and its log?`)) return;
    try {
      await storage.deleteRun(r.id);
    } catch (e) {
      ctx.notify(e);
    }
    draw();
  }

  const unsubscribe = runs.subscribe((c) => {
    if (c.kind !== 'events') draw();
  });
  await draw();
  return { destroy: unsubscribe };
}
