// ui/dag.js under node: layoutDag (dagre) places steps in dependency order, without overlaps,
// with edges from border to border. The drawing itself is checked in e2e/components.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { layoutDag, edgePath, NODE_HEIGHT, CHAR_WIDTH } from '../src/ui/dag.js';

const step = (id, needs = [], extra = {}) => ({ id, agent: 'text.template', needs, foreach: false, when: false, ...extra });
const byId = (layout) => Object.fromEntries(layout.nodes.map((n) => [n.id, n]));
const centerX = (n) => n.x + n.width / 2;
const TOL = 1.5;

function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

// Is `p` on the border of node `n` (within TOL)?
function onBorder(p, n) {
  const inX = p.x >= n.x - TOL && p.x <= n.x + n.width + TOL;
  const inY = p.y >= n.y - TOL && p.y <= n.y + n.height + TOL;
  const onVertical = Math.abs(p.x - n.x) <= TOL || Math.abs(p.x - (n.x + n.width)) <= TOL;
  const onHorizontal = Math.abs(p.y - n.y) <= TOL || Math.abs(p.y - (n.y + n.height)) <= TOL;
  return (inX && onHorizontal) || (inY && onVertical);
}

function assertSound(layout) {
  const nodes = layout.nodes;
  for (const n of nodes) {
    assert.ok(n.x >= 0 && n.y >= 0, `${n.id} starts inside the drawing`);
    assert.ok(n.x + n.width <= layout.width + TOL && n.y + n.height <= layout.height + TOL, `${n.id} ends inside the drawing`);
  }
  for (let i = 0; i < nodes.length; ++i) {
    for (let j = i + 1; j < nodes.length; ++j) {
      assert.ok(!overlaps(nodes[i], nodes[j]), `${nodes[i].id} and ${nodes[j].id} do not overlap`);
    }
  }
  const ids = byId(layout);
  for (const e of layout.edges) {
    assert.ok(e.points.length >= 2, `${e.from}->${e.to} has points`);
    assert.ok(onBorder(e.points[0], ids[e.from]), `${e.from}->${e.to} starts on ${e.from}'s border: ${JSON.stringify(e.points[0])}`);
    assert.ok(onBorder(e.points.at(-1), ids[e.to]), `${e.from}->${e.to} ends on ${e.to}'s border: ${JSON.stringify(e.points.at(-1))}`);
  }
}

test('layoutDag: an empty workflow is an empty layout', () => {
  const empty = { width: 0, height: 0, nodes: [], edges: [] };
  assert.deepEqual(layoutDag([]), empty);
  assert.deepEqual(layoutDag(undefined), empty);
  assert.deepEqual(layoutDag([{}, { id: '' }]), empty, 'steps without ids are left out');
});

test('layoutDag: a chain runs top to bottom in order', () => {
  const layout = layoutDag([step('a'), step('b', ['a']), step('c', ['b']), step('d', ['c'])]);
  assert.deepEqual(layout.nodes.map((n) => n.id), ['a', 'b', 'c', 'd'], 'nodes keep the steps\' order');
  for (let i = 1; i < layout.nodes.length; ++i) {
    const above = layout.nodes[i - 1];
    const below = layout.nodes[i];
    assert.ok(below.y >= above.y + above.height, `${below.id} is below ${above.id}`);
    assert.ok(Math.abs(centerX(below) - centerX(above)) < TOL, `${below.id} is straight under ${above.id}`);
  }
  assert.deepEqual(layout.edges.map((e) => `${e.from}->${e.to}`), ['a->b', 'b->c', 'c->d']);
  for (const e of layout.edges) {
    assert.ok(e.points[0].y < e.points.at(-1).y, `${e.from}->${e.to} points down`);
  }
  assertSound(layout);
});

test('layoutDag: rankdir LR runs left to right', () => {
  const layout = layoutDag([step('a'), step('b', ['a']), step('c', ['b'])], { rankdir: 'LR' });
  const n = byId(layout);
  assert.ok(n.b.x >= n.a.x + n.a.width && n.c.x >= n.b.x + n.b.width);
  assertSound(layout);
});

test('layoutDag: a fan-in puts the join below both parents, the fan-out side by side', () => {
  const layout = layoutDag([step('start'), step('left', ['start']), step('right', ['start']),
    step('join', ['left', 'right'])]);
  const n = byId(layout);
  for (const parent of [n.left, n.right]) {
    assert.ok(n.join.y >= parent.y + parent.height, `join is below ${parent.id}`);
    assert.ok(parent.y >= n.start.y + n.start.height, `${parent.id} is below start`);
  }
  assert.equal(n.left.y, n.right.y, 'the two branches share a rank');
  assert.ok(centerX(n.join) > Math.min(centerX(n.left), centerX(n.right)) &&
    centerX(n.join) < Math.max(centerX(n.left), centerX(n.right)), 'the join sits between its parents');
  assert.equal(layout.edges.length, 4);
  assertSound(layout);
});

test('layoutDag: nodes are sized for their labels; the summary fields pass through', () => {
  const longAgent = 'a.very.long.agent.name.indeed';
  const layout = layoutDag([
    step('x'),
    step('a_rather_long_step_identifier', ['x'], { foreach: true }),
    { id: 'y', agent: longAgent, needs: 'x', when: true },  // needs as a single id
  ]);
  const n = byId(layout);
  for (const node of layout.nodes) assert.equal(node.height, NODE_HEIGHT);
  assert.ok(n.a_rather_long_step_identifier.width >= 'a_rather_long_step_identifier'.length * CHAR_WIDTH);
  assert.ok(n.y.width >= longAgent.length * CHAR_WIDTH, 'the agent counts when it is the longer');
  assert.ok(n.x.width < n.y.width);
  assert.equal(n.a_rather_long_step_identifier.foreach, true);
  assert.equal(n.y.when, true);
  assert.equal(n.x.foreach, false);
  assert.equal(n.y.agent, longAgent);
  assert.deepEqual(layout.edges.map((e) => `${e.from}->${e.to}`).sort(), ['x->a_rather_long_step_identifier', 'x->y']);
  assertSound(layout);
});

test('layoutDag: needs naming unknown steps, itself or twice are ignored; repeated ids keep the first', () => {
  const layout = layoutDag([step('a', ['ghost']), step('b', ['a', 'a', 'b', 'nobody']), step('a', ['b'])]);
  assert.deepEqual(layout.nodes.map((n) => n.id), ['a', 'b']);
  assert.deepEqual(layout.edges.map((e) => `${e.from}->${e.to}`), ['a->b']);
  assertSound(layout);
});

test('layoutDag: a cycle (an invalid workflow) still lays out', () => {
  const layout = layoutDag([step('a', ['c']), step('b', ['a']), step('c', ['b'])]);
  assert.equal(layout.nodes.length, 3);
  assert.equal(layout.edges.length, 3);
  assertSound(layout);
});

test('layoutDag: 200 steps lay out without overlaps', () => {
  const steps = [];
  for (let i = 0; i < 200; ++i) {
    // A few roots, then each step needs one or two of the ten before it (deterministic).
    const needs = i < 4 ? [] : [`s${i - 1 - (i % 7)}`, ...(i % 3 === 0 ? [`s${i - 4}`] : [])];
    steps.push(step(`s${i}`, [...new Set(needs)], { agent: i % 5 === 0 ? 'llm.generate' : 'text.template' }));
  }
  const layout = layoutDag(steps);
  assert.equal(layout.nodes.length, 200);
  assert.ok(layout.edges.length >= 196);
  const n = byId(layout);
  for (const e of layout.edges) assert.ok(n[e.to].y > n[e.from].y, `${e.from} is above ${e.to}`);
  assertSound(layout);
});

test('edgePath: a line through two points, rounded bends through more', () => {
  assert.equal(edgePath([]), '');
  assert.equal(edgePath([{ x: 1, y: 2 }, { x: 3, y: 4.25 }]), 'M1,2 L3,4.3');
  assert.equal(edgePath([{ x: 0, y: 0 }, { x: 10, y: 10 }, { x: 20, y: 10 }]), 'M0,0 Q10,10 15,10 L20,10');
});
