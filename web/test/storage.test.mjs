// storage.js against fake-indexeddb: each test opens its own IDBFactory, so nothing is shared.
import 'fake-indexeddb/auto';  // idb checks `instanceof IDBDatabase` etc. against the globals
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import { openStorage, StorageError, MIGRATIONS } from '../src/storage.js';
import { patched } from './helpers.mjs';

function clock(start = 1000) {
  let t = start;
  return () => t++;
}

async function withStorage(fn, options = {}) {
  const indexedDB = options.indexedDB ?? new IDBFactory();
  const storage = await openStorage({ indexedDB, now: clock(), ...options });
  try {
    return await fn(storage, indexedDB);
  } finally {
    await storage.close();
  }
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof StorageError, `a StorageError, got ${e?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.length > 20, 'the message explains');
    return true;
  });
}

const ev = (seq, type = 'step_succeeded') => ({ seq, type, step: `s${seq}` });

function run(id, started, status = 'succeeded') {
  return { id, workflow: 'scene', yaml: 'name: scene\n', inputs: { a: 1 }, options: {}, status, started };
}

test('events: batches appended out of order read back in seq order, per run', async () => {
  await withStorage(async (s) => {
    await s.appendEvents('r1', [ev(4), ev(5)]);
    await s.appendEvents('r1', [ev(2), ev(1), ev(3)]);
    await s.appendEvents('r2', [ev(1)]);
    await s.appendEvents('r10', [ev(7)]);
    assert.deepEqual((await s.readEvents('r1')).map((e) => e.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(await s.readEvents('r2'), [ev(1)]);
    assert.deepEqual(await s.readEvents('nope'), []);
    assert.equal(await s.countEvents('r1'), 5);
    assert.equal(await s.countEvents('r2'), 1);
    assert.equal(await s.lastSeq('r1'), 5);
    assert.equal(await s.lastSeq('r10'), 7);
    assert.equal(await s.lastSeq('nope'), 0);
    await s.appendEvents('r1', [ev(12)]);
    assert.equal(await s.lastSeq('r1'), 12, 'numeric order, not text order');
  });
});

test('events: a seq already stored is refused with conflict and none of that batch is stored', async () => {
  await withStorage(async (s) => {
    await s.appendEvents('r1', [ev(1), ev(2)]);
    await rejectsWith(s.appendEvents('r1', [ev(3), ev(4), { ...ev(2), type: 'other' }, ev(5)]), 'conflict');
    assert.deepEqual(await s.readEvents('r1'), [ev(1), ev(2)]);
    await rejectsWith(s.appendEvents('r1', [ev(3), ev(3)]), 'conflict');
    assert.equal(await s.lastSeq('r1'), 2);
    await s.appendEvents('r1', [ev(3)]);
    assert.equal(await s.countEvents('r1'), 3, 'the store still takes the next batch');
  });
});

test('events: an event without a positive integer seq is refused with bad_argument, none stored', async () => {
  await withStorage(async (s) => {
    for (const bad of [{ type: 'x' }, { seq: '1' }, { seq: 0 }, { seq: 1.5 }]) {
      await rejectsWith(s.appendEvents('r1', [ev(1), bad]), 'bad_argument');
    }
    assert.equal(await s.countEvents('r1'), 0);
  });
});

test('events: appendEvents resolves only after its transaction committed', async () => {
  await withStorage(async (s) => {
    let committed = false;
    const transactions = new Set();
    await patched('add', function (add, ...args) {
      if (!transactions.has(this.transaction)) {
        transactions.add(this.transaction);
        this.transaction.addEventListener('complete', () => {
          committed = true;
        });
      }
      return add.apply(this, args);
    }, () => s.appendEvents('r1', [ev(1), ev(2), ev(3)]));
    assert.equal(transactions.size, 1, 'one transaction for the batch');
    assert.ok(committed, 'the transaction had committed when the call resolved');
  });
});

test('runs: listRuns is newest first, honours limit and status; getRun; putRun replaces', async () => {
  await withStorage(async (s) => {
    await s.putRun(run('a', 300));
    await s.putRun(run('b', 100, 'failed'));
    await s.putRun(run('c', 500, 'failed'));
    await s.putRun(run('d', 200));
    assert.deepEqual((await s.listRuns()).map((r) => r.id), ['c', 'a', 'd', 'b']);
    assert.deepEqual((await s.listRuns({ limit: 2 })).map((r) => r.id), ['c', 'a']);
    assert.deepEqual((await s.listRuns({ status: 'failed' })).map((r) => r.id), ['c', 'b']);
    assert.deepEqual((await s.listRuns({ status: 'succeeded', limit: 1 })).map((r) => r.id), ['a']);
    assert.deepEqual(await s.listRuns({ limit: 0 }), []);
    assert.deepEqual(await s.getRun('a'), run('a', 300));
    assert.equal(await s.getRun('zzz'), undefined);
    await s.putRun({ ...run('a', 300), status: 'cancelled' });
    assert.equal((await s.getRun('a')).status, 'cancelled');
    assert.equal((await s.listRuns({ limit: 100 })).length, 4);
  });
});

test('runs: listRuns defaults to the 50 newest', async () => {
  await withStorage(async (s) => {
    for (let i = 0; i < 60; i++) await s.putRun(run(`r${i}`, i));
    const runs = await s.listRuns();
    assert.equal(runs.length, 50);
    assert.equal(runs[0].id, 'r59');
    assert.equal(runs.at(-1).id, 'r10');
  });
});

test('runs: updateRun merges in one transaction and returns the record; a missing run is not_found', async () => {
  await withStorage(async (s) => {
    await s.putRun(run('a', 10, 'running'));
    const updated = await s.updateRun('a', { status: 'succeeded', finished: 20, outputs: { x: 1 }, id: 'hijack' });
    assert.deepEqual(updated, { ...run('a', 10), finished: 20, outputs: { x: 1 } });
    assert.deepEqual(await s.getRun('a'), updated);
    assert.equal(await s.getRun('hijack'), undefined, 'the id cannot be patched');
    // Two updates started together both land: each reads and writes inside its own transaction.
    await Promise.all([s.updateRun('a', { totals: { calls: 1 } }), s.updateRun('a', { error: null })]);
    const both = await s.getRun('a');
    assert.deepEqual(both.totals, { calls: 1 });
    assert.equal(both.error, null);
    await rejectsWith(s.updateRun('missing', { status: 'failed' }), 'not_found');
    assert.equal(await s.getRun('missing'), undefined, 'nothing was created');
  });
});

test('runs: deleteRun removes the run and its events, and nothing of its neighbours', async () => {
  await withStorage(async (s) => {
    for (const id of ['a', 'ab', 'b']) {
      await s.putRun(run(id, 1));
      await s.appendEvents(id, [ev(1), ev(2)]);
    }
    await s.deleteRun('a');
    assert.equal(await s.getRun('a'), undefined);
    assert.equal(await s.countEvents('a'), 0);
    assert.equal(await s.countEvents('ab'), 2);
    assert.equal(await s.countEvents('b'), 2);
    assert.deepEqual((await s.listRuns()).map((r) => r.id).sort(), ['ab', 'b']);
    await s.deleteRun('never');  // no error
  });
});

test('workflows: put sets updated, list is sorted by name, get and delete', async () => {
  await withStorage(async (s) => {
    const stored = await s.putWorkflow({ name: 'zeta', yaml: 'name: zeta\n', source: 'user' });
    await s.putWorkflow({ name: 'alpha', yaml: 'name: alpha\n', source: 'shipped', file: 'workflows/alpha.yaml' });
    assert.equal(typeof stored.updated, 'number');
    assert.deepEqual((await s.listWorkflows()).map((w) => w.name), ['alpha', 'zeta']);
    assert.deepEqual(await s.getWorkflow('zeta'), stored);
    assert.equal(await s.getWorkflow('nope'), undefined);
    const again = await s.putWorkflow({ name: 'zeta', yaml: 'name: zeta\n# edited\n', source: 'user' });
    assert.ok(again.updated > stored.updated);
    assert.equal((await s.getWorkflow('zeta')).yaml, 'name: zeta\n# edited\n');
    await s.deleteWorkflow('zeta');
    assert.deepEqual((await s.listWorkflows()).map((w) => w.name), ['alpha']);
  });
});

test('a record without its key is refused with bad_argument', async () => {
  await withStorage(async (s) => {
    await rejectsWith(s.putWorkflow({ yaml: 'x' }), 'bad_argument');
    await rejectsWith(s.putRun({ started: 1 }), 'bad_argument');
    assert.deepEqual(await s.listWorkflows(), []);
  });
});

test('cache: miss, put, get, overwrite, clear', async () => {
  await withStorage(async (s) => {
    assert.equal(await s.cacheGet('k1'), undefined);
    await s.cachePut('k1', { text: 'hello', n: [1, 2] });
    await s.cachePut('k2', 'plain');
    assert.deepEqual(await s.cacheGet('k1'), { text: 'hello', n: [1, 2] });
    await s.cachePut('k1', null);
    assert.equal(await s.cacheGet('k1'), null, 'a cached null is a hit');
    await s.cacheClear();
    assert.equal(await s.cacheGet('k1'), undefined);
    assert.equal(await s.cacheGet('k2'), undefined);
  });
});

test('models and settings round trip', async () => {
  await withStorage(async (s) => {
    assert.equal(await s.getModels(), undefined);
    await s.putModels('models:\n  local: {provider: ollama}\n');
    const models = await s.getModels();
    assert.equal(models.yaml, 'models:\n  local: {provider: ollama}\n');
    assert.equal(typeof models.updated, 'number');

    assert.equal(await s.getSetting('theme', 'light'), 'light');
    assert.equal(await s.getSetting('theme'), undefined);
    await s.putSetting('theme', 'dark');
    await s.putSetting('panes', { left: 240, open: [true, false] });
    await s.putSetting('zero', 0);
    assert.equal(await s.getSetting('theme', 'light'), 'dark');
    assert.deepEqual(await s.getSetting('panes'), { left: 240, open: [true, false] });
    assert.equal(await s.getSetting('zero', 5), 0, 'a stored falsy value is not replaced by the fallback');
  });
});

test('credential records: only ciphertext fields are stored; names are listed sorted', async () => {
  await withStorage(async (s) => {
    const iv = new Uint8Array(12).fill(7);
    await s.putCredentialRecord({ name: 'B_KEY', iv, data: new Uint8Array([1, 2, 3]).buffer, secret: 'plain' });
    await s.putCredentialRecord({ name: 'A_KEY', iv, data: new ArrayBuffer(4) });
    const record = await s.getCredentialRecord('B_KEY');
    assert.deepEqual(Object.keys(record).sort(), ['data', 'iv', 'name', 'updated']);
    assert.deepEqual([...new Uint8Array(record.data)], [1, 2, 3]);
    assert.deepEqual(await s.listCredentialNames(), ['A_KEY', 'B_KEY']);
    await rejectsWith(s.putCredentialRecord({ name: 'C_KEY', iv, data: 'sk-plaintext' }), 'bad_argument');
    await s.deleteCredentialRecord('B_KEY');
    assert.equal(await s.getCredentialRecord('B_KEY'), undefined);
    assert.deepEqual(await s.listCredentialNames(), ['A_KEY']);
  });
});

test('exportData holds workflows, runs, events, models and settings, and no credential or key', async () => {
  await withStorage(async (s) => {
    await s.putWorkflow({ name: 'scene', yaml: 'name: scene\n', source: 'user' });
    await s.putRun(run('r1', 5));
    await s.appendEvents('r1', [ev(1), ev(2)]);
    await s.putModels('models: {}\n');
    await s.putSetting('theme', 'dark');
    await s.cachePut('ck', { cached: true });
    const cipher = new TextEncoder().encode('CIPHERTEXT-MARKER');
    await s.putCredentialRecord({ name: 'SECRET_NAME_MARKER', iv: new Uint8Array(12), data: cipher.buffer });
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    await s.putVaultKey(key);

    const data = await s.exportData();
    const json = JSON.stringify(data);
    assert.deepEqual(JSON.parse(json), data, 'JSON-able');
    assert.equal(data.format, 'loom-export');
    assert.equal(data.version, MIGRATIONS.length);
    assert.deepEqual(data.workflows.map((w) => w.name), ['scene']);
    assert.deepEqual(data.runs, [run('r1', 5)]);
    assert.deepEqual(data.events, [{ run: 'r1', seq: 1, event: ev(1) }, { run: 'r1', seq: 2, event: ev(2) }]);
    assert.equal(data.models.yaml, 'models: {}\n');
    assert.deepEqual(data.settings, { theme: 'dark' });
    assert.ok(!json.includes('SECRET_NAME_MARKER'), 'no credential name');
    assert.ok(!json.includes('CIPHERTEXT-MARKER'), 'no ciphertext');
    assert.ok(!json.includes('AES-GCM'), 'no key');
    for (const k of ['credentials', 'keyring', 'cache']) assert.ok(!(k in data), `no ${k}`);
    assert.ok(!json.includes('ck'), 'no cache entries');
  });
});

test('the vault key round trips as a CryptoKey', async () => {
  await withStorage(async (s) => {
    assert.equal(await s.getVaultKey(), undefined);
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    await s.putVaultKey(key);
    const back = await s.getVaultKey();
    assert.ok(back instanceof CryptoKey);
    assert.equal(back.extractable, false);
    assert.deepEqual(back.algorithm, { name: 'AES-GCM', length: 256 });
  });
});

test('upgrading a v1 database to v2 keeps its data and runs only the new migration', async () => {
  const indexedDB = new IDBFactory();
  const calls = [];
  const v1 = (db, tx, oldVersion) => {
    calls.push(['v1', oldVersion]);
    MIGRATIONS[0](db, tx, oldVersion);
  };
  const s1 = await openStorage({ indexedDB, migrations: [v1] });
  await s1.putWorkflow({ name: 'scene', yaml: 'name: scene\n', source: 'user' });
  await s1.putRun(run('r1', 5));
  await s1.appendEvents('r1', [ev(1), ev(2)]);
  await s1.putSetting('theme', 'dark');
  await s1.close();
  assert.deepEqual(calls, [['v1', 0]]);

  // Version 2: an index of runs by workflow, and every run record gains a field (an async migration).
  const v2 = async (db, tx, oldVersion) => {
    calls.push(['v2', oldVersion]);
    const runs = tx.objectStore('runs');
    runs.createIndex('by_workflow', 'workflow');
    for (let c = await runs.openCursor(); c; c = await c.continue()) await c.update({ ...c.value, schema: 2 });
  };
  const s2 = await openStorage({ indexedDB, migrations: [v1, v2] });
  try {
    assert.deepEqual(calls, [['v1', 0], ['v2', 1]]);
    assert.equal((await s2.getWorkflow('scene')).yaml, 'name: scene\n');
    assert.deepEqual(await s2.getRun('r1'), { ...run('r1', 5), schema: 2 });
    assert.deepEqual(await s2.readEvents('r1'), [ev(1), ev(2)]);
    assert.equal(await s2.getSetting('theme'), 'dark');
    assert.equal((await s2.exportData()).version, 2);
  } finally {
    await s2.close();
  }
});

test('a migration that throws leaves the database at its old version with its data', async () => {
  const indexedDB = new IDBFactory();
  const s1 = await openStorage({ indexedDB });
  await s1.putRun(run('r1', 5));
  await s1.close();
  const broken = () => {
    throw new Error('migration bug');
  };
  await rejectsWith(openStorage({ indexedDB, migrations: [...MIGRATIONS, broken] }), 'failed');
  const s2 = await openStorage({ indexedDB });
  try {
    assert.deepEqual(await s2.getRun('r1'), run('r1', 5));
  } finally {
    await s2.close();
  }
});

test('an upgrade blocked by a tab that keeps the old version open rejects with blocked', async () => {
  const indexedDB = new IDBFactory();
  // An "old tab": a raw v1 connection that ignores versionchange.
  const old = await new Promise((resolve, reject) => {
    const req = indexedDB.open('loom', 1);
    req.onupgradeneeded = () => MIGRATIONS[0](req.result, req.transaction, 0);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    const v2 = (db) => db.createObjectStore('extra');
    await rejectsWith(openStorage({ indexedDB, migrations: [...MIGRATIONS, v2] }), 'blocked');
  } finally {
    old.close();
  }
});

test('another tab upgrading closes this connection and calls onVersionChange', async () => {
  const indexedDB = new IDBFactory();
  let told = 0;
  const s1 = await openStorage({ indexedDB, onVersionChange: () => told++ });
  const v2 = (db) => db.createObjectStore('extra');
  const s2 = await openStorage({ indexedDB, migrations: [...MIGRATIONS, v2] });
  try {
    assert.equal(told, 1);
    await rejectsWith(s1.getRun('x'), 'version');
    await s2.putRun(run('r', 1));
  } finally {
    await s2.close();
  }
});

test('a database newer than this code rejects with version', async () => {
  const indexedDB = new IDBFactory();
  const s2 = await openStorage({ indexedDB, migrations: [...MIGRATIONS, (db) => db.createObjectStore('extra')] });
  await s2.close();
  await rejectsWith(openStorage({ indexedDB }), 'version');
});

test('no IndexedDB at all, or one that refuses to open, rejects with unavailable', async () => {
  await rejectsWith(openStorage({ indexedDB: null }), 'unavailable');
  await rejectsWith(openStorage({ indexedDB: {} }), 'unavailable');
  const refusing = {
    open() {
      throw new DOMException('The operation is insecure.', 'SecurityError');
    },
  };
  await rejectsWith(openStorage({ indexedDB: refusing }), 'unavailable');
  const broken = {
    open() {
      const req = new EventTarget();
      queueMicrotask(() => {
        req.error = new DOMException('Internal error opening backing store', 'UnknownError');
        req.dispatchEvent(new Event('error'));
      });
      return req;
    },
  };
  await rejectsWith(openStorage({ indexedDB: broken }), 'unavailable');
});

test('a closed storage rejects with unavailable', async () => {
  const s = await openStorage({ indexedDB: new IDBFactory() });
  await s.close();
  await rejectsWith(s.listRuns(), 'unavailable');
});

test('a full disk during a batch maps to quota_exceeded and stores none of the batch', async () => {
  await withStorage(async (s) => {
    let adds = 0;
    await patched('add', function (add, ...args) {
      adds += 1;
      if (adds === 2) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return add.apply(this, args);
    }, async () => {
      await rejectsWith(s.appendEvents('r1', [ev(1), ev(2), ev(3)]), 'quota_exceeded');
    });
    assert.equal(adds, 2);
    assert.equal(await s.countEvents('r1'), 0, 'the first add was rolled back');
    await s.appendEvents('r1', [ev(1)]);
    assert.equal(await s.countEvents('r1'), 1);
  });
});

test('a quota error reported by a request aborts its transaction and maps to quota_exceeded', async () => {
  await withStorage(async (s) => {
    await s.putRun(run('a', 1, 'running'));
    // The way a browser reports a full disk: the request fails with QuotaExceededError and the
    // transaction aborts with it. fake-indexeddb has no quota, so queue a request that fails that
    // way, through its (internal) request queue.
    await patched('put', function () {
      return this.transaction._execRequestAsync({
        source: this,
        operation: () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        },
      });
    }, async () => {
      await rejectsWith(s.updateRun('a', { status: 'succeeded' }), 'quota_exceeded');
      await rejectsWith(s.putWorkflow({ name: 'w', yaml: '', source: 'user' }), 'quota_exceeded');
    });
    assert.equal((await s.getRun('a')).status, 'running', 'the update was not stored');
    assert.equal(await s.getWorkflow('w'), undefined);
  });
});

test('StorageError carries code, message and cause', () => {
  const cause = new Error('inner');
  const e = new StorageError('failed', 'it failed; do this', { cause });
  assert.equal(e.name, 'StorageError');
  assert.equal(e.code, 'failed');
  assert.equal(e.cause, cause);
  assert.ok(e instanceof Error);
});

test('the real v2 migration: a v1 database keeps its data and gains the knowledge stores', async () => {
  const indexedDB = new IDBFactory();
  const s1 = await openStorage({ indexedDB, migrations: [MIGRATIONS[0]] });
  await s1.putRun(run('r1', 5));
  await s1.appendEvents('r1', [ev(1)]);
  await s1.close();
  const s2 = await openStorage({ indexedDB });
  try {
    assert.deepEqual(await s2.readEvents('r1'), [ev(1)]);
    assert.deepEqual(await s2.listKnowledge(), []);
    assert.equal(await s2.getKnowledgeIndex(), undefined);
  } finally {
    await s2.close();
  }
});

test('the real v4 migration: a v3 database keeps its runs and finds them by project and scene', async () => {
  const indexedDB = new IDBFactory();
  const s3 = await openStorage({ indexedDB, migrations: MIGRATIONS.slice(0, 3) });
  await s3.putRun({ ...run('old', 5), link: { purpose: 'generate', project: 'p1', scene: 's1' } });
  await s3.putRun(run('plain', 6));
  await s3.close();
  const s4 = await openStorage({ indexedDB });
  try {
    await s4.putRun({ ...run('new', 7), link: { purpose: 'chat', project: 'p1' } });
    await s4.putRun({ ...run('other', 8), link: { purpose: 'generate', project: 'p2', scene: 's9' } });
    assert.deepEqual((await s4.listRunsOf({ project: 'p1' })).map((r) => r.id), ['new', 'old'], 'newest first');
    assert.deepEqual((await s4.listRunsOf({ scene: 's1' })).map((r) => r.id), ['old']);
    assert.deepEqual(await s4.listRunsOf({ project: 'nope' }), []);
    assert.deepEqual(await s4.listRunsOf({}), []);
    assert.equal((await s4.listRuns()).length, 4, 'runs without a link are kept too');
  } finally {
    await s4.close();
  }
});

test('the real v3 migration: a v2 database keeps its data and gains the manuscript stores', async () => {
  const indexedDB = new IDBFactory();
  const s2 = await openStorage({ indexedDB, migrations: MIGRATIONS.slice(0, 2) });
  await s2.putRun(run('r1', 5));
  await s2.appendEvents('r1', [ev(1)]);
  await s2.saveKnowledge({ id: 'mara', name: 'Mara Quill', text: 'Mara.' }, { bytes: new Uint8Array([7]), fingerprint: 'f1' });
  await s2.putSetting('voices', [{ name: 'Mara' }]);
  await s2.close();
  const s3 = await openStorage({ indexedDB });
  try {
    assert.deepEqual(await s3.readEvents('r1'), [ev(1)]);
    assert.equal((await s3.getRun('r1')).started, 5);
    assert.equal((await s3.getKnowledge('mara')).name, 'Mara Quill');
    assert.equal((await s3.getKnowledgeIndex()).fingerprint, 'f1');
    assert.deepEqual(await s3.getSetting('voices'), [{ name: 'Mara' }]);
    const found = await s3.transaction(['projects', 'scenes', 'revisions'], 'readonly', 'Reading the manuscript',
      async (tx) => ({
        projects: await tx.objectStore('projects').count(),
        scenes: await tx.objectStore('scenes').index('by_project').count('p1'),
        revisions: await tx.objectStore('revisions').count(),
        revisionKey: tx.objectStore('revisions').keyPath,
      }));
    assert.deepEqual(found, { projects: 0, scenes: 0, revisions: 0, revisionKey: ['scene', 'n'] });
    await s3.transaction(['scenes', 'revisions'], 'readwrite', 'Saving a scene', async (tx) => {
      await tx.objectStore('scenes').put({ id: 's1', project: 'p1', text: 'x' });
      await tx.objectStore('revisions').add({ scene: 's1', n: 1, text: 'x' });
    });
    await rejectsWith(s3.transaction('revisions', 'readwrite', 'Saving a revision',
      (tx) => tx.store.add({ scene: 's1', n: 1, text: 'again' })), 'conflict');
    assert.equal(await s3.transaction('revisions', 'readonly', 'Reading', async (tx) => (await tx.store.get(['s1', 1])).text), 'x');
  } finally {
    await s3.close();
  }
});

test('knowledge entries and the index snapshot are saved and deleted together', async () => {
  const s = await openStorage({ indexedDB: new IDBFactory() });
  try {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const stored = await s.saveKnowledge({ id: 'mara', name: 'Mara Quill', text: 'Mara grew up on the ferry.' },
      { bytes, fingerprint: 'f1', entries: 1 });
    assert.ok(stored.updated > 0);
    assert.equal((await s.getKnowledge('mara')).name, 'Mara Quill');
    const index = await s.getKnowledgeIndex();
    assert.deepEqual([...index.bytes], [1, 2, 3, 4]);
    assert.equal(index.fingerprint, 'f1');
    assert.deepEqual((await s.exportData()).knowledge.map((k) => k.id), ['mara']);
    assert.equal(JSON.stringify(await s.exportData()).includes('fingerprint'), false, 'the index is not exported');

    await s.deleteKnowledge('mara', { bytes: new Uint8Array([9]), fingerprint: 'f2', entries: 0 });
    assert.equal(await s.getKnowledge('mara'), undefined);
    assert.equal((await s.getKnowledgeIndex()).fingerprint, 'f2');

    // A failed write changes neither the entry nor the index.
    await assert.rejects(s.saveKnowledge({ name: 'no id' }, { bytes, fingerprint: 'f3' }), (e) => { assert.equal(e.code, 'bad_argument'); return true; });
    assert.equal((await s.getKnowledgeIndex()).fingerprint, 'f2');
    assert.deepEqual(await s.listKnowledge(), []);
  } finally {
    await s.close();
  }
});
