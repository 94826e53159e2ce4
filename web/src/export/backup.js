// export/backup.js — one manuscript project as one JSON file, and back: the outline, every scene
// and every revision of their text. For moving a book to another browser or machine, or keeping a
// copy outside the browser. A backup never holds settings, the model pool, credentials or keys:
// only the records of the project's three stores (see storage.js, schema v3).
//
//   const backup = await backupProject(storage, projectId);        // JSON.stringify(backup) -> file
//   const id = await restoreProject(storage, JSON.parse(text));    // a new copy, fresh ids
//
// The file: {format: 'loom.project-backup/1', exported (ms), project: {id, title, created,
// updated, default_model?, workflows?, acts: [{id, title, chapters: [{id, title, scenes: [sceneId]}]}]}, scenes: [{id,
// project, title, pov, tense, outline, beats, text, status, order, created, updated}], revisions:
// [{scene, n, text, title?, created, updated?, origin}]}.

import { StorageError } from '../storage.js';

/// The format name of a project backup (with its version).
export const BACKUP_FORMAT = 'loom.project-backup/1';

const STORES = ['projects', 'scenes', 'revisions'];
const TENSES = ['past', 'present', ''];
const STATUSES = ['idea', 'outline', 'draft', 'revised', 'final'];
const SCENE_KEYS = ['id', 'project', 'title', 'pov', 'tense', 'outline', 'beats', 'text', 'status', 'order',
  'created', 'updated'];

function revisionRange(id) {
  return globalThis.IDBKeyRange.bound([id, 0], [id, Infinity]);
}

// Only the listed keys of `record` that are present.
function pick(record, keys) {
  return Object.fromEntries(keys.filter((k) => record[k] !== undefined).map((k) => [k, record[k]]));
}

/// Project `projectId` as a backup object (JSON-able; see the top of this file), read from
/// `storage` (openStorage()'s result) in one transaction; scenes in outline order, revisions by
/// scene and number. `now()` stamps `exported`. Rejects StorageError 'not_found' when there is no
/// such project.
export async function backupProject(storage, projectId, { now = Date.now } = {}) {
  const what = `Backing up project '${projectId}'`;
  return storage.transaction(STORES, 'readonly', what, async (t) => {
    const project = await t.objectStore('projects').get(projectId);
    if (!project) {
      throw new StorageError('not_found', `${what} failed: there is no such project (it may have been deleted in ` +
        'another tab).');
    }
    const scenes = (await t.objectStore('scenes').index('by_project').getAll(projectId))
      .sort((a, b) => a.order - b.order);
    const revisions = [];
    for (const scene of scenes) revisions.push(...await t.objectStore('revisions').getAll(revisionRange(scene.id)));
    return {
      format: BACKUP_FORMAT,
      exported: now(),
      project: {
        id: project.id, title: project.title, created: project.created, updated: project.updated,
        ...(project.default_model ? { default_model: project.default_model } : {}),
        ...(project.workflows && Object.keys(project.workflows).length ? { workflows: { ...project.workflows } } : {}),
        acts: project.acts.map((act) => ({
          id: act.id, title: act.title,
          chapters: act.chapters.map((ch) => ({ id: ch.id, title: ch.title, scenes: [...ch.scenes] })),
        })),
      },
      scenes: scenes.map((s) => pick(s, SCENE_KEYS)),
      revisions: revisions.map((r) => pick(r, ['scene', 'n', 'text', 'title', 'created', 'updated', 'origin'])),
    };
  });
}

// ---- validation: every check names what is wrong, by its place in the file ----

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isId = (v) => typeof v === 'string' && v.length > 0 && v.length <= 200;
const isTime = (v) => v === undefined || Number.isFinite(v);

// Checks `backup` and resolves nothing; throws bad_argument naming the first problem.
function validate(backup, fail) {
  if (!isObject(backup)) fail('the file is not a project backup (not a JSON object)');
  if (backup.format !== BACKUP_FORMAT) {
    fail(`the file is not a Loom project backup: 'format' must be '${BACKUP_FORMAT}' (got ` +
      `${JSON.stringify(backup.format)?.slice(0, 80)})`);
  }
  const { project, scenes, revisions } = backup;
  if (!isObject(project)) fail('\'project\' must be an object');
  if (!isId(project.id)) fail('\'project.id\' must be a non-empty string');
  if (typeof project.title !== 'string') fail('\'project.title\' must be a string');
  if (!isTime(project.created) || !isTime(project.updated)) fail('\'project.created\' and \'project.updated\' must be numbers');
  if (!Array.isArray(project.acts)) fail('\'project.acts\' must be a list');
  if (project.default_model !== undefined && typeof project.default_model !== 'string') {
    fail('\'project.default_model\' must be a string (a model of the pool)');
  }
  if (project.workflows !== undefined && (!isObject(project.workflows) ||
      !Object.values(project.workflows).every((w) => typeof w === 'string'))) {
    fail('\'project.workflows\' must be an object of workflow names');
  }
  if (!Array.isArray(scenes)) fail('\'scenes\' must be a list');
  if (!Array.isArray(revisions)) fail('\'revisions\' must be a list');

  const sceneIds = new Set();
  scenes.forEach((s, i) => {
    const at = `scenes[${i}]`;
    if (!isObject(s)) fail(`${at} must be an object`);
    if (!isId(s.id)) fail(`${at}.id must be a non-empty string`);
    if (sceneIds.has(s.id)) fail(`${at}.id '${s.id}' is used by another scene too`);
    sceneIds.add(s.id);
    if (s.project !== project.id) fail(`${at}.project must be the project's id '${project.id}'`);
    for (const key of ['title', 'pov', 'outline', 'text']) {
      if (typeof s[key] !== 'string') fail(`${at}.${key} must be a string`);
    }
    if (!TENSES.includes(s.tense)) fail(`${at}.tense must be one of 'past', 'present', ''`);
    if (!STATUSES.includes(s.status)) fail(`${at}.status must be one of ${STATUSES.map((x) => `'${x}'`).join(', ')}`);
    if (!Array.isArray(s.beats) || !s.beats.every((b) => typeof b === 'string')) fail(`${at}.beats must be a list of strings`);
    if (!isTime(s.created) || !isTime(s.updated)) fail(`${at}.created and .updated must be numbers`);
  });

  const seen = new Set();  // act, chapter ids
  const placed = new Set();
  // An act or a chapter at `at`: an object with an id no other act or chapter has, a title, and
  // the list `children` (its chapters, its scenes).
  const checkNode = (node, at, children) => {
    if (!isObject(node)) fail(`${at} must be an object`);
    if (!isId(node.id) || seen.has(node.id)) fail(`${at}.id must be a non-empty string no other act or chapter has`);
    seen.add(node.id);
    if (typeof node.title !== 'string') fail(`${at}.title must be a string`);
    if (!Array.isArray(node[children])) fail(`${at}.${children} must be a list`);
  };
  project.acts.forEach((act, i) => {
    const at = `project.acts[${i}]`;
    checkNode(act, at, 'chapters');
    act.chapters.forEach((ch, j) => {
      const cat = `${at}.chapters[${j}]`;
      checkNode(ch, cat, 'scenes');
      ch.scenes.forEach((id, k) => {
        if (!sceneIds.has(id)) fail(`${cat}.scenes[${k}] names scene ${JSON.stringify(id)}, which is not in 'scenes'`);
        if (placed.has(id)) fail(`${cat}.scenes[${k}]: scene '${id}' is in the outline twice`);
        placed.add(id);
      });
    });
  });
  for (const id of sceneIds) if (!placed.has(id)) fail(`scene '${id}' is in no chapter of the outline`);

  const keys = new Set();
  revisions.forEach((r, i) => {
    const at = `revisions[${i}]`;
    if (!isObject(r)) fail(`${at} must be an object`);
    if (!sceneIds.has(r.scene)) fail(`${at}.scene ${JSON.stringify(r.scene)} is not a scene of the backup`);
    if (!Number.isSafeInteger(r.n) || r.n < 1) fail(`${at}.n must be a positive integer`);
    const key = `${r.scene}\u0000${r.n}`;
    if (keys.has(key)) fail(`${at}: scene '${r.scene}' has revision ${r.n} twice`);
    keys.add(key);
    if (typeof r.text !== 'string') fail(`${at}.text must be a string`);
    if (r.title !== undefined && typeof r.title !== 'string') fail(`${at}.title must be a string`);
    if (!Number.isFinite(r.created) || !isTime(r.updated)) fail(`${at}.created must be a number`);
    if (!isObject(r.origin) || typeof r.origin.kind !== 'string') fail(`${at}.origin must be an object with a 'kind'`);
  });
}

/// Writes the project of `backup` (backupProject()'s object, e.g. parsed from a file) into
/// `storage` and resolves the restored project's id. The whole file is checked first: a wrong
/// format or any bad record (named in the message: "scenes[2].id must be a non-empty string")
/// rejects StorageError 'bad_argument', and nothing is written. The project, its scenes and their
/// revisions are then written in one transaction (all or nothing).
/// With `asNew` (the default) the project, its acts, chapters and scenes get fresh ids (revisions
/// follow their scenes), so restoring next to the original — in the same browser — keeps both;
/// the title stays. With `asNew: false` the ids are kept: a project with that id in `storage` is
/// replaced whole (its scenes and revisions not in the backup are deleted), and a scene id that
/// belongs to another project rejects 'conflict'.
export async function restoreProject(storage, backup, { asNew = true } = {}) {
  const what = 'Restoring a project backup';
  const fail = (message) => {
    throw new StorageError('bad_argument', `${what} failed: ${message}; nothing was restored.`);
  };
  validate(backup, fail);

  const fresh = () => globalThis.crypto.randomUUID();
  const ids = new Map();  // old id -> id to store
  const map = (id) => {
    if (!ids.has(id)) ids.set(id, asNew ? fresh() : id);
    return ids.get(id);
  };
  const projectId = map(backup.project.id);
  const project = {
    id: projectId, title: backup.project.title.trim(),
    created: backup.project.created ?? Date.now(), updated: backup.project.updated ?? Date.now(),
    ...(backup.project.default_model ? { default_model: backup.project.default_model } : {}),
    ...(backup.project.workflows ? { workflows: { ...backup.project.workflows } } : {}),
    acts: backup.project.acts.map((act) => ({
      id: map(act.id), title: act.title,
      chapters: act.chapters.map((ch) => ({ id: map(ch.id), title: ch.title, scenes: ch.scenes.map(map) })),
    })),
  };
  const order = new Map(project.acts.flatMap((a) => a.chapters.flatMap((c) => c.scenes)).map((id, i) => [id, i]));
  const scenes = backup.scenes.map((s) => {
    const id = map(s.id);
    return { ...pick(s, SCENE_KEYS), id, project: projectId, beats: [...s.beats], order: order.get(id) };
  });
  const revisions = backup.revisions.map((r) => ({
    ...pick(r, ['n', 'text', 'title', 'created', 'updated']), scene: map(r.scene), origin: { ...r.origin },
  }));

  await storage.transaction(STORES, 'readwrite', `${what} ('${project.title}')`, async (t) => {
    const projects = t.objectStore('projects');
    const sceneStore = t.objectStore('scenes');
    const revisionStore = t.objectStore('revisions');
    if (!asNew) {
      for (const scene of scenes) {
        const there = await sceneStore.get(scene.id);
        if (there && there.project !== projectId) {
          throw new StorageError('conflict', `${what} failed: scene '${scene.id}' belongs to another project in ` +
            'this browser; restore the backup as a new copy instead. Nothing was restored.');
        }
      }
      // Replacing the project: what it holds now goes, so nothing is left over from before.
      for (const sceneId of await sceneStore.index('by_project').getAllKeys(projectId)) {
        await revisionStore.delete(revisionRange(sceneId));
        await sceneStore.delete(sceneId);
      }
      await projects.delete(projectId);
    }
    await projects.add(project);
    for (const scene of scenes) await sceneStore.add(scene);
    for (const revision of revisions) await revisionStore.add(revision);
  });
  return projectId;
}
