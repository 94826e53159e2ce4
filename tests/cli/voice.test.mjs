// `loom voice` (profile, score, rank, lines) and voice.* steps in `loom run`, against the shipped
// background (build/voice/background.loomvb, found next to the binary's build folder).
// LOOM_BIN names the binary (tools/test sets it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loom = process.env.LOOM_BIN || join(root, 'build/native-debug/loom');
const env = { ...process.env };
delete env.LOOM_VOICE_BACKGROUND;

function run(cwd, args, extraEnv = {}) {
  return new Promise((resolve) => {
    const child = spawn(loom, args, { cwd, env: { ...env, ...extraEnv } });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// Two voices: a terse deckhand who talks in contractions, and a formal narrator of long,
// semicolon-jointed sentences. Each sentence list is cycled into passages of the voice.
const TERSE = [
  "Don't touch the rope.", "It's wet, and it'll burn your hands.", "We go at dawn.", "I've said it twice.",
  "Can't wait for the fog.", "She's late again.", "Get the lamp.", "Tide's turning; move.", "I won't ask twice.",
  "You'd better run.", "Where's the boy?", "He's on the pier.", "Nets first, then food.", "Don't look back.",
  "That's the bell.", "We're done here.", "Keep low.", "It's cold, so what.", "Grab the oars.", "I'm not waiting.",
];
const FORMAL = [
  'The harbour, which had in former years been the pride of the county, presented upon that morning an aspect of melancholy neglect; its walls were crumbling, and its piers, once crowded with merchants, stood almost entirely deserted.',
  'It was the opinion of the elder inhabitants, who were not without some experience in such matters, that the decline of the town ought to be attributed less to misfortune than to the improvidence of its governors.',
  'Nevertheless, there remained among the families of the place a certain dignity of manner, which neither poverty nor the passage of time had been able wholly to efface; and this dignity was observed with particular respect by every visitor.',
  'Whether the ferry would resume its passage before the winter was a question upon which a great deal of conversation was expended, though very little information could be obtained.',
  'The gentleman who had undertaken the management of the estate was universally acknowledged to be a person of considerable judgement; his conduct, however, was regarded with suspicion by those whose interests he had disturbed.',
];
const passage = (sentences, start, words) => {
  const out = [];
  let n = 0;
  for (let i = start; n < words; i++) {
    const s = sentences[i % sentences.length];
    out.push(s);
    n += s.split(/\s+/).length;
  }
  return out.join(' ');
};

function project() {
  const dir = mkdtempSync(join(tmpdir(), 'loom-voice-'));
  writeFileSync(join(dir, 'terse1.txt'), passage(TERSE, 0, 250));
  writeFileSync(join(dir, 'terse2.txt'), passage(TERSE, 7, 250));
  writeFileSync(join(dir, 'terse_draft.txt'), passage(TERSE, 3, 200));
  writeFileSync(join(dir, 'formal_draft.txt'), passage(FORMAL, 1, 200));
  const manuscript = TERSE.map((line, i) => (i % 2 ? `"${line}" Mara said.` : `Ives looked up. "${FORMAL[i % FORMAL.length]}" said Ives.`));
  writeFileSync(join(dir, 'chapter.md'), [...manuscript, ...TERSE.map((l) => `"${l}" said Mara.`)].join('\n\n'));
  return dir;
}

test('loom voice profile writes a profile and prints the features against the background', async () => {
  const dir = project();
  const r = await run(dir, ['voice', 'profile', 'terse1.txt', 'terse2.txt', '--name', 'Mara']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Mara: \d+ words -> Mara\.voice\.json/);
  assert.match(r.stdout, /contractions/);
  const profile = JSON.parse(readFileSync(join(dir, 'Mara.voice.json'), 'utf8'));
  assert.equal(profile.format, 'loom.voice.profile/1');
  assert.equal(profile.references.length, 2);
  assert.equal(profile.features.length, 17);
  assert.ok(profile.features.find((f) => f.id === 'contractions').value > 50);
});

test('loom voice score: the same voice scores higher than another, with evidence in plain words', async () => {
  const dir = project();
  assert.equal((await run(dir, ['voice', 'profile', 'terse1.txt', 'terse2.txt', '--name', 'Mara'])).code, 0);
  const r = await run(dir, ['voice', 'score', '-p', 'Mara.voice.json', 'terse_draft.txt', 'formal_draft.txt', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const [same, other] = JSON.parse(r.stdout);
  assert.equal(same.file, 'terse_draft.txt');
  assert.ok(same.score > other.score, `${same.score} > ${other.score}`);
  assert.ok(same.score > 50 && other.score < 50, `${same.score}, ${other.score}`);
  assert.ok(other.evidence.length >= 3 && other.evidence.length <= 5);
  assert.ok(other.evidence.some((e) => /no contractions; Mara uses one every \d+ words/.test(e.text)), JSON.stringify(other.evidence));
  const text = await run(dir, ['voice', 'score', '-p', 'Mara.voice.json', 'formal_draft.txt']);
  assert.match(text.stdout, /formal_draft\.txt: \d+ \/ 100 {2}\(confidence (low|medium|high)/);
});

test('loom voice score --cast: relative to another voice, the other voice\'s passage falls under 50', async () => {
  const dir = project();
  writeFileSync(join(dir, 'formal1.txt'), passage(FORMAL, 0, 250));
  writeFileSync(join(dir, 'formal2.txt'), passage(FORMAL, 2, 250));
  assert.equal((await run(dir, ['voice', 'profile', 'terse1.txt', 'terse2.txt', '--name', 'Mara'])).code, 0);
  assert.equal((await run(dir, ['voice', 'profile', 'formal1.txt', 'formal2.txt', '--name', 'Ives'])).code, 0);
  const r = await run(dir, ['voice', 'score', '-p', 'Mara.voice.json', '--cast', 'Ives.voice.json', 'terse_draft.txt', 'formal_draft.txt', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const [same, other] = JSON.parse(r.stdout);
  assert.equal(same.cast, 1);
  assert.ok(same.score > 50 && other.score < 50, `${same.score}, ${other.score}`);
  const bad = await run(dir, ['voice', 'score', '-p', 'Mara.voice.json', '--cast', 'nope.json', 'terse_draft.txt']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /cannot read the profile nope\.json/);
});

test('loom voice rank: best first, the same text twice is a tie', async () => {
  const dir = project();
  assert.equal((await run(dir, ['voice', 'profile', 'terse1.txt', 'terse2.txt', '--name', 'Mara'])).code, 0);
  const r = await run(dir, ['voice', 'rank', '-p', 'Mara.voice.json', 'formal_draft.txt', 'terse_draft.txt', 'terse_draft.txt', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.ranking.map((c) => c.label), ['terse_draft.txt', 'terse_draft.txt', 'formal_draft.txt']);
  assert.equal(out.ranking[0].rank, 1);
  assert.equal(out.ranking[1].rank, 1);
  assert.equal(out.ranking[1].tie, true);
  assert.equal(out.ranking[2].rank, 3);
  assert.equal(out.best, null);
});

test('loom voice profile --character takes the character\'s lines from a manuscript', async () => {
  const dir = project();
  const lines = await run(dir, ['voice', 'lines', 'chapter.md', '--character', 'Mara', '--other', 'Ives', '--json']);
  assert.equal(lines.code, 0, lines.stderr);
  const found = JSON.parse(lines.stdout);
  assert.ok(found.length >= 20, `${found.length} lines`);
  assert.ok(found.every((l) => l.speaker === 'Mara'));
  const r = await run(dir, ['voice', 'profile', 'chapter.md', '--character', 'Mara', '--other', 'Ives', '--json', '-o', 'm.json']);
  assert.equal(r.code, 0, r.stderr);
  const profile = JSON.parse(r.stdout);
  assert.equal(profile.name, 'Mara');
  assert.equal(profile.lines, found.length);
});

test('loom voice errors: too few words, a missing profile, a bad or missing background', async () => {
  const dir = project();
  writeFileSync(join(dir, 'short.txt'), 'Too short to be a voice.');
  const short = await run(dir, ['voice', 'profile', 'short.txt', '--name', 'X']);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /hold 6 words; a voice needs at least 100/);
  const missing = await run(dir, ['voice', 'score', '-p', 'nope.json', 'terse_draft.txt']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read the profile nope\.json/);
  writeFileSync(join(dir, 'bad.loomvb'), 'LOOMVB\x01garbage-garbage');
  const bad = await run(dir, ['voice', 'profile', 'terse1.txt', '--name', 'M', '--voice-background', 'bad.loomvb']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a voice background, or a damaged one/);
  const gone = await run(dir, ['voice', 'profile', 'terse1.txt', '--name', 'M'], { LOOM_VOICE_BACKGROUND: join(dir, 'none.loomvb') });
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /cannot read the voice background/);
});

test('loom run: voice.profile and voice.score steps in a workflow', async () => {
  const dir = project();
  const refs = JSON.stringify([readFileSync(join(dir, 'terse1.txt'), 'utf8'), readFileSync(join(dir, 'terse2.txt'), 'utf8')]);
  const r = await run(dir, ['run', join(root, 'workflows/examples/voice_check.yaml'), '--json', '-i', 'character=Mara',
    '-i', `references=${refs}`, '-i', `draft=${readFileSync(join(dir, 'formal_draft.txt'), 'utf8')}`]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.outputs.score < 50, JSON.stringify(out.outputs));
  assert.ok(out.outputs.evidence.length >= 3);
});
