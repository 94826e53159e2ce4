// run_view.js — one run: its graph, each step's status, attempts, time, tokens, cost, streamed
// text and errors, live while it runs; cancel, resume, re-run from the failed step.
// Everything shown comes from the engine's snapshot of the run (rebuilt from the stored log
// when this tab does not drive it) and from the log itself.
import { el, errorName, errorText, formatCost, formatDuration, formatTime, formatTokens, preview } from './dom.js';
import { renderDag } from './dag.js';
import { FINISHED } from '../host.js';


// "gist#2/rewrite" -> "gist": the workflow step a snapshot path belongs to.
function topStep(path) {
  return String(path).split(/[/#[]/)[0];
}

function text(value) {
  if (value == null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

// What a knowledge.query step put into the prompt and why: always / mentioned / ranked (score),
// each with its tokens and citation marker; then what the budget left out.
function knowledgeTable(output) {
  const row = (x, dropped) => el('tr', { cls: dropped ? 'dropped' : '', attrs: { 'data-reason': x.reason } }, [
    el('td', { text: dropped ? '—' : `[${x.citation}]` }),
    el('td', { text: x.name }),
    el('td', { text: x.category }),
    el('td', { text: x.reason === 'ranked' ? `ranked (${Number(x.score).toFixed(2)})` : x.reason }),
    el('td', { text: String(x.tokens) }),
    el('td', { text: x.source ?? '' }),
  ]);
  return el('div', { cls: 'knowledge-used', attrs: { 'data-testid': 'knowledge-used' } }, [
    el('h4', { text: `Knowledge in the prompt: ${output.included.length} piece${output.included.length === 1 ? '' : 's'}, ${output.tokens} tokens` }),
    el('table', {}, [
      el('thead', {}, [el('tr', {}, ['', 'entry', 'category', 'why', 'tokens', 'source'].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
      el('tbody', {}, [...output.included.map((x) => row(x, false)), ...(output.dropped ?? []).map((x) => row(x, true))]),
    ]),
    el('details', {}, [el('summary', { text: 'The assembled context' }), el('pre', { text: output.context ?? '' })]),
  ]);
}

/// Draws run `runId` into `root`. Returns {destroy()}.
export async function runView(root, ctx, runId) {
  const { runs, engine } = ctx;
  let view = await runs.view(runId);
  if (!view) {
    root.replaceChildren(el('section', { cls: 'panel' }, [
      el('h2', { text: 'No such run' }),
      el('p', { cls: 'note', text: `There is no run ${runId} in this browser. It may have been deleted.` }),
      el('a', { text: 'All runs', attrs: { href: '#/runs' } }),
    ]));
    return { destroy() {} };
  }
  let { record, snapshot } = view;
  const events = [...view.events];
  let selected = null;
  let picked = false;  // the writer chose the step shown
  let frame = 0;

  let steps = [];
  try {
    steps = engine.load(record.yaml, record.workflow).steps;
  } catch {
    steps = [];
  }

  const status = el('span', { cls: 'run-status', attrs: { 'data-testid': 'run-status' } });
  const facts = el('dl', { cls: 'facts' });
  const buttons = el('div', { cls: 'actions' });
  const note = el('div', { cls: 'note', attrs: { 'data-testid': 'run-note', 'aria-live': 'polite' } });
  const dagBox = el('div', { cls: 'dag-box' });
  const table = el('tbody');
  const detail = el('section', { cls: 'step-detail', attrs: { 'data-testid': 'step-detail', 'aria-live': 'polite' } });
  const outputs = el('div', { cls: 'outputs', attrs: { 'data-testid': 'run-outputs' } });
  const runError = el('div', { cls: 'errors', attrs: { 'data-testid': 'run-error-box' } });
  // A human.input step's question, answered here (the run is paused meanwhile).
  const questionBox = el('section', { cls: 'question', attrs: { 'data-testid': 'human-question', 'aria-live': 'assertive' } });
  const log = el('ol', { cls: 'events', attrs: { 'data-testid': 'event-list' } });
  const logCount = el('span', { cls: 'count' });
  const panel = el('section', { cls: 'panel run', attrs: { 'data-testid': 'run-view', 'data-run': runId } }, [
    el('div', { cls: 'panel-head' }, [
      el('h2', {}, [el('a', { text: record.workflow, attrs: { href: `#/workflows/${encodeURIComponent(record.workflow)}` } }), ' ', status]),
      buttons,
    ]),
    facts, note, runError, questionBox,
    el('div', { cls: 'run-body' }, [
      el('div', { cls: 'run-graph' }, [dagBox]),
      el('div', { cls: 'run-steps' }, [
        el('table', { cls: 'steps', attrs: { 'data-testid': 'step-table' } }, [
          el('thead', {}, [el('tr', {}, ['step', 'status', 'attempts', 'time', 'tokens', 'cost'].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
          table,
        ]),
        detail,
      ]),
    ]),
    el('h3', { text: 'Outputs' }), outputs,
    el('details', { cls: 'event-log' }, [el('summary', {}, ['Event log ', logCount]), log]),
  ]);
  root.replaceChildren(panel);

  const dag = renderDag(dagBox, steps, { onSelect: (id) => select(id) });

  function select(path) {
    picked = true;
    selected = path;
    dag.select(topStep(path));
    drawDetail();
  }

  function stepsByPath() {
    return new Map((snapshot?.steps ?? []).map((s) => [s.path, s]));
  }

  function duration(s) {
    if (s.started_at == null) return '';
    const end = s.finished_at ?? (FINISHED.has(snapshot?.status) ? null : Date.now());
    return end == null ? '' : formatDuration(end - s.started_at);
  }

  function drawHeader() {
    const st = snapshot?.status ?? record.status;
    panel.dataset.status = st;
    status.textContent = st;
    status.className = `run-status status-${st}`;
    const started = events.find((e) => e.type === 'run_started')?.t ?? record.started;
    const last = events.at(-1)?.t;
    const rows = [
      ['started', formatTime(record.started)],
      ['time', FINISHED.has(st) && last ? formatDuration(last - started) : ''],
      ['tokens', formatTokens(snapshot?.usage)],
      ['cost', formatCost(snapshot?.cost_usd)],
      ['budget', snapshot?.budget?.max_cost_usd ? formatCost(snapshot.budget.max_cost_usd) : ''],
      ['re-runs', record.parent ? 'an earlier run' : ''],
      ['for', record.link?.scene ? 'its scene in the manuscript' : ''],
    ];
    const links = { 're-runs': `#/runs/${record.parent}`, for: `#/manuscript/${record.link?.project}/${record.link?.scene}` };
    facts.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => {
      const dd = links[k] && (k !== 're-runs' || record.parent)
        ? el('dd', {}, [el('a', { text: v, attrs: { href: links[k], 'data-testid': `run-${k}-link` } })])
        : el('dd', { text: v, attrs: { 'data-testid': `run-${k}` } });
      return [el('dt', { text: k }), dd];
    }));

    const live = runs.isLive(runId);
    buttons.replaceChildren();
    if (live) {
      buttons.append(el('button', { text: 'Cancel', cls: 'secondary danger', attrs: { type: 'button', 'data-testid': 'cancel-button' },
        on: { click: () => runs.cancel(runId) } }));
    } else if (!FINISHED.has(st)) {
      buttons.append(el('button', { text: 'Resume', attrs: { type: 'button', 'data-testid': 'resume-button' }, on: { click: resume } }));
    }
    if (st === 'failed' || st === 'cancelled') {
      buttons.append(el('button', { text: 'Re-run from the failed step', attrs: { type: 'button', 'data-testid': 'rerun-failed' },
        on: { click: () => rerun(true) } }));
    }
    if (FINISHED.has(st)) {
      buttons.append(el('button', { text: 'Run again', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'rerun' },
        on: { click: () => rerun(false) } }));
    }
    note.textContent = !live && !FINISHED.has(st)
      ? 'This run is not being driven in this tab (another tab has it, or it stopped when saving failed). Resume carries it on from its last saved step.'
      : '';
    if (snapshot?.error) {
      runError.replaceChildren(el('div', { cls: 'error', attrs: { role: 'alert', 'data-testid': 'run-error' } }, [
        el('strong', { text: `${errorName(snapshot.error)}: ` }), el('span', { text: snapshot.error.message }),
        snapshot.error.hint ? el('div', { cls: 'hint', text: snapshot.error.hint }) : '',
      ]));
    } else {
      runError.replaceChildren();
    }
  }

  function drawSteps() {
    const byPath = stepsByPath();
    const statuses = {};
    for (const s of steps) {
      const snap = byPath.get(s.id);
      if (snap) statuses[s.id] = { status: snap.cached ? 'cached' : snap.status, attempts: snap.attempts ?? 0, items: snap.items };
    }
    dag.update(statuses);
    const paths = [...byPath.keys()];
    for (const s of steps) if (!byPath.has(s.id)) paths.push(s.id);
    table.replaceChildren(...paths.map((path) => {
      const s = byPath.get(path) ?? { path, status: 'pending' };
      const tr = el('tr', {
        cls: `step status-${s.status}${selected === path ? ' selected' : ''}`,
        attrs: { 'data-testid': `step-${path}`, 'data-status': s.status, tabindex: '0' },
        on: { click: () => select(path), keydown: (ev) => ev.key === 'Enter' && select(path) },
      }, [
        el('th', { attrs: { scope: 'row' } }, [el('span', { text: path }), s.model ? el('span', { cls: 'model', text: s.model }) : '']),
        el('td', { text: `${s.status}${s.cached ? ' (cached)' : ''}${s.items != null ? ` ${s.items_done}/${s.items}` : ''}` }),
        el('td', { text: s.attempts ? String(s.attempts) : '' }),
        el('td', { text: duration(s) }),
        el('td', { text: formatTokens(s.usage) }),
        el('td', { text: formatCost(s.cost_usd) }),
      ]);
      return tr;
    }));
  }

  function drawDetail() {
    // Until the writer picks a step, the detail follows the step that is streaming.
    if (!picked) {
      const running = (snapshot?.steps ?? []).find((s) => s.status === 'running' && s.partial);
      if (running && running.path !== selected) {
        selected = running.path;
        dag.select(topStep(selected));
      }
    }
    if (!selected) {
      detail.replaceChildren(el('p', { cls: 'note', text: 'Select a step to see its output.' }));
      return;
    }
    const s = stepsByPath().get(selected) ?? { path: selected, status: 'pending' };
    const streamed = s.partial ?? (typeof s.output?.text === 'string' ? s.output.text : null);
    detail.replaceChildren(
      el('h3', { text: `${s.path} — ${s.status}` }),
      s.error ? el('div', { cls: 'error', attrs: { role: 'alert', 'data-testid': 'step-error' } }, [el('span', { text: errorText(s.error) })]) : '',
      streamed != null
        ? el('pre', { cls: 'stream', text: streamed, attrs: { 'data-testid': `stream-${s.path}`, 'aria-label': `${s.path} output text` } })
        : '',
      Array.isArray(s.output?.included) ? knowledgeTable(s.output) : '',
      s.output !== undefined && typeof s.output?.text !== 'string' && !Array.isArray(s.output?.included)
        ? el('pre', { cls: 'output', text: text(s.output), attrs: { 'data-testid': `output-${s.path}` } })
        : '',
      s.output?.finish_reason ? el('p', { cls: 'note', text: `finish: ${s.output.finish_reason}${s.output.truncated ? ' (cut off at max_tokens)' : ''} · served by ${s.output.served_by ?? s.output.model_id ?? ''}` }) : '',
    );
  }

  function drawOutputs() {
    const out = snapshot?.outputs ?? record.outputs;
    if (!out) {
      outputs.replaceChildren(el('p', { cls: 'note', text: FINISHED.has(snapshot?.status) ? 'No outputs.' : 'Outputs appear when the run succeeds.' }));
      return;
    }
    outputs.replaceChildren(...Object.entries(out).map(([k, v]) => el('div', { cls: 'output', attrs: { 'data-testid': `output-${k}` } }, [
      el('h4', { text: k }), el('pre', { text: text(v) }),
    ])));
  }

  // Redrawn only when the question changes, so that an answer being typed is not wiped.
  let askedFor = undefined;
  function drawQuestion() {
    const q = runs.question(runId);
    if (q === askedFor) return;
    askedFor = q;
    questionBox.hidden = !q;
    if (!q) {
      questionBox.replaceChildren();
      return;
    }
    const answer = (value) => {
      if (!runs.answer(runId, value)) ctx.notify(new Error('The question was already answered or the run stopped.'));
    };
    let controls;
    if (q.choices.length) {
      controls = el('div', { cls: 'actions' }, q.choices.map((c) => el('button', {
        text: c, attrs: { type: 'button', 'data-testid': `human-choice-${c}` }, on: { click: () => answer(c) },
      })));
    } else {
      const shownText = typeof q.show === 'string' && q.show.length > 0;
      const box = el('textarea', { attrs: { rows: shownText ? '16' : '3', 'data-testid': 'human-answer-text', 'aria-label': q.prompt } });
      controls = el('form', { cls: 'actions', on: { submit: (ev) => { ev.preventDefault(); answer(box.value); } } }, [
        box,
        // An edit question shows the text to edit: start from it rather than retype it.
        shownText ? el('button', { text: 'Start from the text shown', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'human-use-shown' },
          on: { click: () => { box.value = q.show; box.focus(); } } }) : '',
        el('button', { text: 'Answer', attrs: { type: 'submit', 'data-testid': 'human-answer' } }),
      ]);
    }
    questionBox.replaceChildren(
      el('h3', { text: q.prompt, attrs: { 'data-testid': 'human-prompt' } }),
      q.show != null ? el('pre', { cls: 'output', text: text(q.show), attrs: { 'data-testid': 'human-show' } }) : '',
      controls,
      el('p', { cls: 'note', text: 'The run waits for your answer; it is kept if you close the page, and asked again when you come back.' }),
    );
  }

  const shown = { count: 0 };
  function drawLog() {
    const batch = document.createDocumentFragment();
    for (const e of events.slice(shown.count)) {
      const step = e.step ? `${e.step}${e.item != null && e.item >= 0 ? `[${e.item}]` : ''}` : '';
      batch.append(el('li', { cls: `ev ${e.type}`, attrs: { 'data-type': e.type } }, [
        el('span', { cls: 'seq', text: String(e.seq) }),
        el('span', { cls: 'type', text: e.type }),
        el('span', { cls: 'step', text: step }),
        el('span', { cls: 'detail', text: e.type === 'step_output_delta' ? preview(e.delta, 80) : preview(e.error ? errorText(e.error) : e.output ?? e.outputs ?? '', 100) }),
      ]));
    }
    shown.count = events.length;
    log.append(batch);
    logCount.textContent = `(${events.length})`;
  }

  function draw() {
    frame = 0;
    drawHeader();
    drawSteps();
    drawDetail();
    drawOutputs();
    drawQuestion();
    drawLog();
  }

  function later() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  async function resume() {
    try {
      const ok = await runs.resume(runId);
      if (!ok) ctx.notify(new Error('Another tab is running this, or it has finished.'));
    } catch (e) {
      ctx.notify(e);
    }
    later();
  }

  async function rerun(fromFailed) {
    try {
      const id = await runs.rerun(runId, { fromFailed });
      ctx.navigate(`#/runs/${id}`);
    } catch (e) {
      ctx.notify(e);
    }
  }

  const unsubscribe = runs.subscribe(async (change) => {
    if (change.runId !== runId) return;
    if (change.events) events.push(...change.events);
    if (change.snapshot) snapshot = change.snapshot;
    if (change.record) record = change.record;
    later();
  });
  // A clock for the running steps' durations.
  // A run another tab drives is followed through the stored log.
  let refreshing = false;
  const tick = setInterval(async () => {
    if (FINISHED.has(snapshot?.status)) return;
    if (!runs.isLive(runId) && !refreshing) {
      refreshing = true;
      try {
        const fresh = await runs.view(runId);
        if (fresh) {
          record = fresh.record;
          snapshot = fresh.snapshot;
          events.splice(0, events.length, ...fresh.events);
        }
      } finally {
        refreshing = false;
      }
    }
    later();
  }, 1000);

  draw();
  return {
    destroy() {
      unsubscribe();
      clearInterval(tick);
      if (frame) cancelAnimationFrame(frame);
      dag.destroy();
    },
  };
}
