// dag.js — the workflow graph: a layout (dagre, pure, testable in node) and an SVG drawing of it
// whose nodes show each step's status. Step ids and agents are set with textContent and
// setAttribute only; nothing is parsed as markup, and no style attribute is written (the page's
// CSP has no 'unsafe-inline'): every look comes from components.css through classes.
//
//   const dag = renderDag(panel, summary.steps, { onSelect: (id) => showStep(id) });
//   dag.update({ chunks: { status: 'succeeded' }, summary: { status: 'running', attempts: 2 } });
//   dag.select('summary');
//   dag.destroy();
import { Graph, layout } from '@dagrejs/dagre';

/// Width of one character of a label, an estimate good enough for system-ui at 13 px bold.
export const CHAR_WIDTH = 7.5;
/// Left room for the status glyph plus right room for the "↻2" / "cached" note.
export const NODE_PADDING = 64;
export const NODE_MIN_WIDTH = 96;
export const NODE_HEIGHT = 46;

/// The statuses a node can show: the engine's step statuses (snapshot: pending, scheduled,
/// running, succeeded, failed, skipped, cancelled) and the host's finer ones.
export const STATUSES = Object.freeze(['pending', 'ready', 'scheduled', 'running', 'waiting', 'paused',
  'succeeded', 'failed', 'skipped', 'cancelled']);

// A glyph per status, so that a status reads without its color.
const GLYPH = {
  pending: '○',
  ready: '◇',
  scheduled: '◇',
  running: '▶',
  waiting: '◷',
  paused: '‖',
  succeeded: '✓',
  failed: '✗',
  skipped: '↷',
  cancelled: '⊘',
};

const SVG_NS = 'http://www.w3.org/2000/svg';

function needsOf(step) {
  const needs = step?.needs;
  if (needs == null) return [];
  return (Array.isArray(needs) ? needs : [needs]).map(String);
}

function nodeWidth(id, agent) {
  const chars = Math.max(id.length, agent.length);
  return Math.max(NODE_MIN_WIDTH, Math.ceil(chars * CHAR_WIDTH) + NODE_PADDING);
}

/// Lays out a workflow's steps ([{id, agent, needs, foreach, when}], as load() summarizes them).
/// Returns {width, height, nodes: [{id, agent, x, y, width, height, foreach, when}],
/// edges: [{from, to, points: [{x, y}]}]}: x/y of a node are its top-left corner, an edge's
/// points run from the border of `from` to the border of `to`. Needs naming unknown steps, a step
/// needing itself and repeated ids (after the first) are left out; it never throws on them.
export function layoutDag(steps, { rankdir = 'TB' } = {}) {
  const list = [];
  const seen = new Set();
  for (const step of Array.isArray(steps) ? steps : []) {
    const id = String(step?.id ?? '');
    if (!id || seen.has(id)) continue;
    seen.add(id);
    list.push({ id, agent: String(step.agent ?? ''), needs: needsOf(step), foreach: Boolean(step.foreach),
      when: Boolean(step.when) });
  }
  if (list.length === 0) return { width: 0, height: 0, nodes: [], edges: [] };

  const g = new Graph();
  g.setGraph({ rankdir, nodesep: 32, ranksep: 44, edgesep: 14, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const s of list) g.setNode(s.id, { width: nodeWidth(s.id, s.agent), height: NODE_HEIGHT });
  const edges = [];
  for (const s of list) {
    for (const need of new Set(s.needs)) {
      if (need === s.id || !seen.has(need)) continue;
      g.setEdge(need, s.id);
      edges.push({ from: need, to: s.id });
    }
  }
  layout(g);

  const graph = g.graph();
  const nodes = list.map((s) => {
    const n = g.node(s.id);
    return { id: s.id, agent: s.agent, x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width,
      height: n.height, foreach: s.foreach, when: s.when };
  });
  return {
    width: Math.ceil(graph.width),
    height: Math.ceil(graph.height),
    nodes,
    edges: edges.map((e) => ({ ...e, points: g.edge(e.from, e.to).points.map((p) => ({ x: p.x, y: p.y })) })),
  };
}

/// An SVG path through `points`: straight ends, gently rounded bends.
export function edgePath(points) {
  if (points.length === 0) return '';
  const f = (n) => Math.round(n * 10) / 10;
  let d = `M${f(points[0].x)},${f(points[0].y)}`;
  for (let i = 1; i < points.length - 1; ++i) {
    const p = points[i];
    const q = points[i + 1];
    d += ` Q${f(p.x)},${f(p.y)} ${f((p.x + q.x) / 2)},${f((p.y + q.y) / 2)}`;
  }
  const last = points[points.length - 1];
  return `${d} L${f(last.x)},${f(last.y)}`;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

// {status, attempts, cached, items} from what update() was given: an object or a status string.
function normalizeState(value) {
  const v = typeof value === 'string' ? { status: value } : (value ?? {});
  let status = String(v.status ?? 'pending');
  let cached = Boolean(v.cached);
  if (status === 'cached') {
    status = 'succeeded';
    cached = true;
  }
  if (!STATUSES.includes(status)) status = 'pending';
  const attempts = Number.isFinite(Number(v.attempts)) ? Math.trunc(Number(v.attempts)) : 0;
  const items = Number.isFinite(Number(v.items)) ? Math.trunc(Number(v.items)) : null;
  return { status, attempts, cached: cached && status === 'succeeded', items };
}

let instances = 0;

/// Draws the steps' graph into `container` (an SVG appended to it) and returns
/// {update(statusById), select(id), destroy(), element}. Each node is a button (tabindex 0,
/// data-testid "dag-node-<id>", data-step, data-status); a click, Enter or Space selects it and
/// calls onSelect(id). update({id: {status, attempts, cached, items} | status}) changes the nodes
/// named (others keep theirs); a status of "cached" is a success served from the step cache.
export function renderDag(container, steps, { onSelect, rankdir = 'TB', label = 'Workflow steps' } = {}) {
  const box = layoutDag(steps, { rankdir });
  const arrowId = `loom-dag-arrow-${++instances}`;
  const root = svg('svg', {
    class: box.nodes.length ? 'loom-dag' : 'loom-dag empty',
    role: 'group',
    'aria-label': box.nodes.length ? label : `${label}: none`,
    viewBox: `0 0 ${box.width} ${box.height}`,
    width: box.width,
    height: box.height,
    'data-testid': 'dag',
  });
  const defs = svg('defs');
  const marker = svg('marker', { id: arrowId, class: 'loom-dag-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5,
    markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z' }));
  defs.append(marker);

  const edgeLayer = svg('g', { class: 'loom-dag-edges', 'aria-hidden': 'true' });
  for (const e of box.edges) {
    edgeLayer.append(svg('path', { class: 'loom-dag-edge', d: edgePath(e.points), 'marker-end': `url(#${arrowId})`,
      'data-from': e.from, 'data-to': e.to }));
  }

  const nodeLayer = svg('g', { class: 'loom-dag-nodes' });
  const nodes = new Map();  // id -> {g, agent, glyph, note, badge, state}
  for (const n of box.nodes) {
    const g = svg('g', {
      class: 'loom-dag-node status-pending',
      transform: `translate(${n.x},${n.y})`,
      'data-testid': `dag-node-${n.id}`,
      'data-step': n.id,
      'data-status': 'pending',
      tabindex: 0,
      role: 'button',
      'aria-pressed': 'false',
    });
    if (n.foreach) {
      g.classList.add('foreach');
      g.append(svg('rect', { class: 'stack', x: 4, y: 4, width: n.width, height: n.height, rx: 6 }));
    }
    g.append(svg('rect', { class: 'box', width: n.width, height: n.height, rx: 6 }));
    const glyph = svg('text', { class: 'glyph', x: 9, y: 20, 'aria-hidden': 'true' }, GLYPH.pending);
    g.append(glyph);
    g.append(svg('text', { class: 'id', x: 26, y: 20 }, n.id));
    g.append(svg('text', { class: 'agent', x: 26, y: 36 }, n.agent));
    const note = svg('text', { class: 'note', x: n.width - 8, y: 20, 'text-anchor': 'end' });
    g.append(note);
    let badge = null;
    if (n.foreach) {
      const b = svg('g', { class: 'badge foreach-badge', transform: `translate(${n.width - 34},-8)` });
      b.append(svg('title', {}, 'runs once per item (foreach)'));
      b.append(svg('rect', { width: 28, height: 16, rx: 8 }));
      badge = svg('text', { x: 14, y: 12, 'text-anchor': 'middle' }, '×');
      b.append(badge);
      g.append(b);
    }
    if (n.when) {
      g.classList.add('when');
      const w = svg('g', { class: 'badge when-badge', transform: 'translate(14,0)' });
      w.append(svg('title', {}, 'runs only when its condition holds (when)'));
      w.append(svg('path', { d: 'M0,-8 L8,0 L0,8 L-8,0 z' }));
      w.append(svg('text', { x: 0, y: 3, 'text-anchor': 'middle' }, '?'));
      g.append(w);
    }
    const entry = { g, n, glyph, note, badge, state: normalizeState('pending') };
    nodes.set(n.id, entry);
    setLabel(entry);
    nodeLayer.append(g);
  }
  root.append(defs, edgeLayer, nodeLayer);
  container.append(root);

  let selected = null;

  function setLabel(entry) {
    const { n, state } = entry;
    let text = `${n.id} (${n.agent}): ${state.status}`;
    if (state.cached) text += ', cached';
    if (state.attempts > 1) text += `, attempt ${state.attempts}`;
    if (n.foreach) text += state.items != null ? `, ${state.items} items` : ', for each item';
    if (n.when) text += ', conditional';
    entry.g.setAttribute('aria-label', text);
  }

  function apply(entry, state) {
    const { g } = entry;
    g.classList.remove(`status-${entry.state.status}`);
    g.classList.add(`status-${state.status}`);
    g.classList.toggle('cached', state.cached);
    g.classList.toggle('retried', state.attempts > 1);
    g.setAttribute('data-status', state.status);
    if (state.cached) g.setAttribute('data-cached', 'true');
    else g.removeAttribute('data-cached');
    entry.glyph.textContent = GLYPH[state.status];
    entry.note.textContent = state.cached ? 'cached' : state.attempts > 1 ? `↻${state.attempts}` : '';
    if (entry.badge) entry.badge.textContent = state.items != null ? `×${state.items}` : '×';
    entry.state = state;
    setLabel(entry);
  }

  function select(id) {
    const next = id == null ? null : nodes.get(String(id)) ?? null;
    if (selected && selected !== next) {
      selected.g.classList.remove('selected');
      selected.g.setAttribute('aria-pressed', 'false');
    }
    selected = next;
    if (next) {
      next.g.classList.add('selected');
      next.g.setAttribute('aria-pressed', 'true');
    }
  }

  function activate(target) {
    const g = target instanceof Element ? target.closest('.loom-dag-node') : null;
    if (!g || !root.contains(g)) return false;
    const id = g.getAttribute('data-step');
    select(id);
    onSelect?.(id);
    return true;
  }

  const onClick = (event) => activate(event.target);
  const onKeyDown = (event) => {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    if (activate(event.target)) event.preventDefault();
  };
  root.addEventListener('click', onClick);
  root.addEventListener('keydown', onKeyDown);

  return {
    element: root,
    update(statusById) {
      const items = statusById instanceof Map ? statusById.entries() : Object.entries(statusById ?? {});
      for (const [id, value] of items) {
        const entry = nodes.get(String(id));
        if (entry) apply(entry, normalizeState(value));
      }
    },
    select,
    destroy() {
      root.removeEventListener('click', onClick);
      root.removeEventListener('keydown', onKeyDown);
      root.remove();
      nodes.clear();
      selected = null;
    },
  };
}
