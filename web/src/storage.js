// storage.js — the studio's persistence: one IndexedDB database (default name 'loom') through the
// `idb` package. Every method is one transaction, so a failure leaves nothing half-written, and
// every failure is a StorageError with a `code` a caller can switch on.
//
//   const storage = await openStorage({ onVersionChange: () => showReloadBanner() });
//   await storage.putRun({ id, workflow, yaml, inputs, options, status: 'running', started: Date.now() });
//   await storage.appendEvents(id, events);   // resolves once committed: safe to start the effects
//   const log = await storage.readEvents(id); // engine events in seq order, for engine.restore()
//
// Stores (schema version 1; MIGRATIONS below builds them):
//   workflows    keyPath 'name'          {name, yaml, source: 'shipped'|'user', file?, updated}
//   runs         keyPath 'id'            {id, workflow, yaml, inputs, options, status, started, ...}
//                index 'by_started' on 'started'
//   events       keyPath ['run', 'seq']  {run, seq, event}; append-only (add, never put)
//   cache        keyPath 'key'           {key, output, stored}: the engine's step cache
//   models       out-of-line keys        'pool' -> {yaml, updated}: the models file's text
//   settings     out-of-line keys        key -> any structured-cloneable value
//   credentials  keyPath 'name'          {name, iv: Uint8Array, data: ArrayBuffer, updated}: ciphertext
//                                        only (credentials.js encrypts)
//   keyring      out-of-line keys        'vault' -> the vault's non-extractable AES-GCM CryptoKey
// Version 2 added `knowledge` (keyPath 'id') and `knowledge_index` ('base' -> the index snapshot);
// version 3 the manuscript (manuscript.js reads and writes them through transaction()):
//   projects     keyPath 'id'            {id, title, created, updated, acts: [{id, title, chapters:
//                                        [{id, title, scenes: [sceneId, ...]}]}]}
//   scenes       keyPath 'id'            {id, project, title, pov, tense, outline, beats, text,
//                                        status, order, updated}; index 'by_project' on 'project'
//   revisions    keyPath ['scene', 'n']  {scene, n, text, title?, created, origin: {kind, ...}}

// idb's openDB() and deleteDB() always use the global `indexedDB`; `wrap` lets us open through the
// factory we are given (a fake one in tests) and still get idb's promise-returning objects.
import { wrap } from 'idb';

/// Why a storage operation failed. `code` is one of: 'unavailable' (no IndexedDB, storage disabled
/// or the connection was lost), 'blocked' (another tab holds an older version open), 'version'
/// (the database is newer than this tab's code, or another tab has just upgraded it),
/// 'quota_exceeded', 'conflict' (a record with that key exists, e.g. an event seq already stored),
/// 'not_found', 'bad_argument' (a record without a valid key), 'undecryptable' (credentials.js),
/// 'failed' (anything else). `cause` is the original
/// error. Messages say what happened and what to do; they never contain a credential.
export class StorageError extends Error {
  constructor(code, message, { cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }

  get name() {
    return 'StorageError';
  }
}

const EVENT_MIN_SEQ = 0;

function v1(db) {
  db.createObjectStore('workflows', { keyPath: 'name' });
  db.createObjectStore('runs', { keyPath: 'id' }).createIndex('by_started', 'started');
  db.createObjectStore('events', { keyPath: ['run', 'seq'] });
  db.createObjectStore('cache', { keyPath: 'key' });
  db.createObjectStore('models');
  db.createObjectStore('settings');
  db.createObjectStore('credentials', { keyPath: 'name' });
  db.createObjectStore('keyring');
}

// Version 2: the knowledge base (issue 5). `knowledge` holds the writer's entries (codex entries
// and reference files as text); `knowledge_index` the engine's snapshot of the index built from
// them (key 'base'), so the index is not rebuilt on every page load.
function v2(db) {
  db.createObjectStore('knowledge', { keyPath: 'id' });
  db.createObjectStore('knowledge_index');
}

// Version 3: the manuscript (issue 7). `projects` holds each project with its outline tree (acts,
// chapters, scene ids; order is array order); `scenes` the scenes, indexed by project so a project
// is deleted with its scenes; `revisions` every saved version of a scene's text, keyed [scene, n].
function v3(db) {
  db.createObjectStore('projects', { keyPath: 'id' });
  db.createObjectStore('scenes', { keyPath: 'id' }).createIndex('by_project', 'project');
  db.createObjectStore('revisions', { keyPath: ['scene', 'n'] });
}

// Version 4: the runs a project's work made (issue 7): `runs` indexed by `link.project` and
// `link.scene` (scenes.js, chat.js), so a project's cost and a scene's runs are read without
// reading every run. Runs without a link are in neither index.
function v4(db, tx) {
  const runs = tx.objectStore('runs');
  runs.createIndex('by_project', 'link.project');
  runs.createIndex('by_scene', 'link.scene');
}

/// The schema, one function per version: MIGRATIONS[i](db, tx, oldVersion) upgrades version i to
/// i + 1 inside the versionchange transaction (`db` and `tx` are idb-wrapped). The database version
/// is MIGRATIONS.length, so version 2 is one more function here. A migration may return a promise
/// (awaiting only requests of `tx`); if it throws or rejects, the upgrade is rolled back.
export const MIGRATIONS = Object.freeze([v1, v2, v3, v4]);

// Runs migrations[from..to) in order: synchronously until one returns a promise, then after it.
function migrate(migrations, db, tx, from, to) {
  let version = from;
  const next = () => {
    while (version < to) {
      const pending = migrations[version](db, tx, from);
      version += 1;
      if (pending && typeof pending.then === 'function') return pending.then(next);
    }
    return undefined;
  };
  return next();
}

const AFTER = 'nothing of this operation was saved';

/// `e` as a StorageError about `what` ("saving run 'x'"); a StorageError passes through unchanged.
function toStorageError(e, what) {
  if (e instanceof StorageError) return e;
  const name = e?.name ?? '';
  const detail = e?.message ? ` (${name}: ${e.message})` : name ? ` (${name})` : '';
  const opts = { cause: e };
  switch (name) {
    case 'QuotaExceededError':
      return new StorageError('quota_exceeded', `${what} failed: the browser refused to store more, because the disk ` +
        `or this site's storage quota is full. Free disk space, or delete old runs in History; ${AFTER} and ` +
        'nothing saved earlier was lost.', opts);
    case 'ConstraintError':
      return new StorageError('conflict', `${what} failed: a record with the same key is already stored${detail}; ` +
        `${AFTER}.`, opts);
    case 'VersionError':
      return new StorageError('version', `${what} failed: the database was created by a newer Loom than this tab ` +
        'runs. Reload the page to get the newer version.', opts);
    case 'DataError':
      return new StorageError('bad_argument', `${what} failed: the record has no valid key${detail}; ${AFTER}.`, opts);
    case 'InvalidStateError':
    case 'UnknownError':
    case 'SecurityError':
      return new StorageError('unavailable', `${what} failed: the browser's database is not available${detail}. ` +
        'Private windows and "block site data" settings disable it; use a normal window, or allow this site ' +
        'to store data, and reload.', opts);
    default:
      return new StorageError('failed', `${what} failed${detail || `: ${String(e)}`}; ${AFTER}.`, opts);
  }
}

function quietly(fn) {
  try {
    fn();
  } catch {
    // already finished or aborted: nothing to undo
  }
}

// Opens (creating or upgrading) the database; resolves the idb-wrapped IDBDatabase.
function openDatabase(factory, name, migrations) {
  return new Promise((resolve, reject) => {
    const what = `Opening the database '${name}'`;
    let request;
    try {
      request = factory.open(name, migrations.length);
    } catch (e) {
      reject(toStorageError(e, what));
      return;
    }
    let upgradeError = null;
    let gaveUp = false;
    request.addEventListener('upgradeneeded', (event) => {
      const tx = wrap(request.transaction);
      tx.done.catch(() => {});  // its failure reaches us as the request's error
      const fail = (e) => {
        upgradeError = e;
        quietly(() => tx.abort());
      };
      try {
        migrate(migrations, wrap(request.result), tx, event.oldVersion, event.newVersion)?.catch(fail);
      } catch (e) {
        fail(e);
      }
    });
    request.addEventListener('blocked', () => {
      gaveUp = true;
      reject(new StorageError('blocked', `${what} is blocked: another Loom tab has an older version of the ` +
        'database open and does not let go. Close the other Loom tabs (or reload them), then reload this one.'));
    });
    request.addEventListener('success', () => {
      // Once blocked, the request may still succeed when the other tab closes; nobody waits for it now.
      if (gaveUp) request.result.close();
      else resolve(wrap(request.result));
    });
    request.addEventListener('error', () => {
      if (gaveUp) return;
      if (upgradeError) {
        reject(new StorageError('failed', `${what} failed: upgrading its schema to version ${migrations.length} ` +
          `failed (${upgradeError?.message ?? upgradeError}); the database was left as it was. Reload the page; ` +
          'if it happens again, export your data from Settings and report it.', { cause: upgradeError }));
      } else {
        reject(toStorageError(request.error, what));
      }
    });
  });
}

/// Opens the studio's database, creating or upgrading it with `migrations` (MIGRATIONS; tests pass
/// their own). `indexedDB` is the IDBFactory to use; `now()` stamps `updated`/`stored` fields;
/// `storageManager` is navigator.storage (for estimate/persist). When another tab upgrades the
/// database, this connection is closed and `onVersionChange()` called (reload the page then).
/// Returns a Storage (the methods below). Rejects with StorageError 'unavailable' (no IndexedDB,
/// storage disabled), 'blocked' (another tab holds an older version open), 'version' (the database
/// is newer than `migrations`) or 'failed' (a migration threw; the database is left unchanged).
export async function openStorage({
  name = 'loom', indexedDB = globalThis.indexedDB, onVersionChange, migrations = MIGRATIONS, now = Date.now,
  storageManager = globalThis.navigator?.storage,
} = {}) {
  if (!indexedDB || typeof indexedDB.open !== 'function') {
    throw new StorageError('unavailable', 'This browser offers no IndexedDB here, so the studio cannot save ' +
      'workflows, runs or keys. Private windows and "block site data" settings disable it; use a normal ' +
      'window of a current browser, or allow this site to store data, and reload.');
  }
  const KeyRange = globalThis.IDBKeyRange;
  const db = await openDatabase(indexedDB, name, migrations);
  let closedBecause = null;  // null while open; then a StorageError for every later call
  db.addEventListener('versionchange', () => {
    db.close();
    closedBecause = new StorageError('version', 'Another tab opened a newer Loom and upgraded (or deleted) the ' +
      'database, so this tab let go of it. Reload this tab to continue; everything saved so far is kept.');
    onVersionChange?.();
  });
  db.addEventListener('close', () => {
    closedBecause ??= new StorageError('unavailable', 'The browser closed the database (its data may have been ' +
      'cleared). Reload the page.');
  });

  // Runs fn(tx) in one transaction over `stores` and resolves its result once the transaction has
  // committed; on any failure the transaction is aborted (nothing it wrote stays) and the error
  // becomes a StorageError about `what`.
  async function within(stores, mode, what, fn) {
    if (closedBecause) throw closedBecause;
    let tx;
    try {
      tx = db.transaction(stores, mode);
    } catch (e) {
      throw toStorageError(e, what);
    }
    tx.done.catch(() => {});  // observed below; an abort after a failed request must not go unhandled
    try {
      const result = await fn(tx);
      await tx.done;
      return result;
    } catch (e) {
      quietly(() => tx.abort());
      // A request's error, or the commit's (a full disk shows up only there), is the transaction's.
      throw e instanceof StorageError ? e : toStorageError(tx.error ?? e, what);
    }
  }

  const runEvents = (runId) => KeyRange.bound([runId, EVENT_MIN_SEQ], [runId, Infinity]);

  return {
    /// Closes the connection; later calls reject with 'unavailable'.
    async close() {
      closedBecause ??= new StorageError('unavailable', 'The studio closed its database; reload the page.');
      db.close();
    },

    // ---- workflows ----

    /// Every workflow record, sorted by name.
    listWorkflows() {
      return within('workflows', 'readonly', 'Reading the workflows', (tx) => tx.store.getAll());
    },

    /// The workflow record called `name`, or undefined.
    getWorkflow(name) {
      return within('workflows', 'readonly', `Reading workflow '${name}'`, (tx) => tx.store.get(name));
    },

    /// Stores `record` ({name, yaml, source, file?}), replacing one of the same name; sets `updated`.
    /// Resolves the stored record.
    putWorkflow(record) {
      const stored = { ...record, updated: now() };
      return within('workflows', 'readwrite', `Saving workflow '${record?.name}'`, async (tx) => {
        await tx.store.put(stored);
        return stored;
      });
    },

    /// Deletes the workflow called `name` (nothing if there is none).
    deleteWorkflow(name) {
      return within('workflows', 'readwrite', `Deleting workflow '${name}'`, (tx) => tx.store.delete(name));
    },

    // ---- runs ----

    /// Stores a run record (needs a string `id` and a numeric `started`), replacing one with that id.
    putRun(record) {
      return within('runs', 'readwrite', `Saving run '${record?.id}'`, async (tx) => {
        await tx.store.put(record);
      });
    },

    /// Merges `patch` into run `id` in one transaction (the id itself cannot change) and resolves the
    /// new record. Rejects 'not_found' when there is no such run.
    updateRun(id, patch) {
      return within('runs', 'readwrite', `Updating run '${id}'`, async (tx) => {
        const old = await tx.store.get(id);
        if (old === undefined) {
          throw new StorageError('not_found', `Updating run '${id}' failed: there is no such run (it may have been ` +
            'deleted in another tab); nothing was saved.');
        }
        const record = { ...old, ...patch, id: old.id };
        await tx.store.put(record);
        return record;
      });
    },

    /// The run record `id`, or undefined.
    getRun(id) {
      return within('runs', 'readonly', `Reading run '${id}'`, (tx) => tx.store.get(id));
    },

    /// Up to `limit` run records, newest `started` first; only those with `status` when given.
    listRuns({ limit = 50, status } = {}) {
      return within('runs', 'readonly', 'Reading the run history', async (tx) => {
        const runs = [];
        if (limit <= 0) return runs;
        let cursor = await tx.store.index('by_started').openCursor(null, 'prev');
        while (cursor) {
          if (status === undefined || cursor.value.status === status) {
            runs.push(cursor.value);
            if (runs.length >= limit) break;
          }
          cursor = await cursor.continue();
        }
        return runs;
      });
    },

    /// The run records linked to project `project` (or, with `scene`, to that scene), newest
    /// `started` first.
    listRunsOf({ project, scene } = {}) {
      const [index, key] = scene !== undefined ? ['by_scene', scene] : ['by_project', project];
      return within('runs', 'readonly', 'Reading the runs of a project', async (tx) => {
        if (key === undefined || key === null) return [];
        const runs = await tx.store.index(index).getAll(key);
        return runs.sort((a, b) => b.started - a.started);
      });
    },

    /// Deletes run `id` and its events, and nothing else, in one transaction.
    deleteRun(id) {
      return within(['runs', 'events'], 'readwrite', `Deleting run '${id}'`, async (tx) => {
        await tx.objectStore('runs').delete(id);
        await tx.objectStore('events').delete(runEvents(id));
      });
    },

    // ---- events ----

    /// Appends engine events (each with a positive integer `seq`) to run `runId`'s log, all in one
    /// transaction, and resolves once it has committed: the caller may then start the effects.
    /// Rejects 'conflict' when a seq is already stored (or repeats in the batch) and 'bad_argument'
    /// for an event without a valid seq; either way none of the batch is stored.
    appendEvents(runId, events) {
      const what = `Saving ${events?.length} events of run '${runId}'`;
      return within('events', 'readwrite', what, async (tx) => {
        for (const event of events) {
          if (!Number.isSafeInteger(event?.seq) || event.seq <= EVENT_MIN_SEQ) {
            throw new StorageError('bad_argument', `${what} failed: an event has no positive integer seq ` +
              `(got ${JSON.stringify(event?.seq)}); ${AFTER}.`);
          }
        }
        const adds = events.map((event) => {
          const added = tx.store.add({ run: runId, seq: event.seq, event });
          added.catch(() => {});  // if a later add throws, the transaction's abort rejects this one
          return added;
        });
        await Promise.all(adds);
      });
    },

    /// Run `runId`'s events in seq order (an empty list when it has none).
    readEvents(runId) {
      return within('events', 'readonly', `Reading the events of run '${runId}'`, async (tx) => {
        const records = await tx.store.getAll(runEvents(runId));
        return records.map((r) => r.event);
      });
    },

    /// How many events run `runId` has stored.
    countEvents(runId) {
      return within('events', 'readonly', `Counting the events of run '${runId}'`,
        (tx) => tx.store.count(runEvents(runId)));
    },

    /// The highest stored seq of run `runId`; 0 when it has none.
    lastSeq(runId) {
      return within('events', 'readonly', `Reading the events of run '${runId}'`, async (tx) => {
        const cursor = await tx.store.openKeyCursor(runEvents(runId), 'prev');
        return cursor ? cursor.key[1] : 0;
      });
    },

    // ---- the step cache ----

    /// The cached output for engine cache key `key`, or undefined on a miss.
    cacheGet(key) {
      return within('cache', 'readonly', 'Reading the step cache', async (tx) => (await tx.store.get(key))?.output);
    },

    /// Caches `output` (JSON-able) under `key`.
    cachePut(key, output) {
      return within('cache', 'readwrite', 'Saving to the step cache', async (tx) => {
        await tx.store.put({ key, output, stored: now() });
      });
    },

    /// Empties the step cache.
    cacheClear() {
      return within('cache', 'readwrite', 'Clearing the step cache', (tx) => tx.store.clear());
    },

    // ---- the model pool ----

    /// The stored models file, {yaml, updated}, or undefined when none was saved.
    getModels() {
      return within('models', 'readonly', 'Reading the models file', (tx) => tx.store.get('pool'));
    },

    /// Stores the text of the models file.
    putModels(yaml) {
      return within('models', 'readwrite', 'Saving the models file', async (tx) => {
        await tx.store.put({ yaml, updated: now() }, 'pool');
      });
    },

    // ---- settings ----

    /// The setting `key`, or `fallback` when it was never stored.
    getSetting(key, fallback) {
      return within('settings', 'readonly', `Reading setting '${key}'`, async (tx) => {
        const value = await tx.store.get(key);
        return value === undefined ? fallback : value;
      });
    },

    /// Stores setting `key` (any structured-cloneable value).
    putSetting(key, value) {
      return within('settings', 'readwrite', `Saving setting '${key}'`, async (tx) => {
        await tx.store.put(value, key);
      });
    },

    // ---- credentials: ciphertext only (credentials.js encrypts and decrypts) ----

    /// The encrypted record {name, iv, data, updated} of credential `name`, or undefined.
    getCredentialRecord(name) {
      return within('credentials', 'readonly', `Reading credential '${name}'`, (tx) => tx.store.get(name));
    },

    /// Stores {name, iv: Uint8Array, data: ArrayBuffer} (other fields are dropped) and sets
    /// `updated`. Rejects 'bad_argument' when iv or data is not binary.
    putCredentialRecord(record) {
      const what = `Saving credential '${record?.name}'`;
      return within('credentials', 'readwrite', what, async (tx) => {
        const { name, iv, data } = record ?? {};
        if (!(iv instanceof Uint8Array) || !(data instanceof ArrayBuffer || ArrayBuffer.isView(data))) {
          throw new StorageError('bad_argument', `${what} failed: a credential record holds only ciphertext ` +
            `(iv: Uint8Array, data: ArrayBuffer); ${AFTER}.`);
        }
        await tx.store.put({ name, iv, data, updated: now() });
      });
    },

    /// Deletes credential `name` (nothing if there is none).
    deleteCredentialRecord(name) {
      return within('credentials', 'readwrite', `Deleting credential '${name}'`, (tx) => tx.store.delete(name));
    },

    /// The names of the stored credentials, sorted.
    listCredentialNames() {
      return within('credentials', 'readonly', 'Reading the credential names', (tx) => tx.store.getAllKeys());
    },

    /// The vault's CryptoKey, or undefined when none was stored (or the keyring was cleared).
    getVaultKey() {
      return within('keyring', 'readonly', 'Reading the key vault', (tx) => tx.store.get('vault'));
    },

    /// Stores the vault's CryptoKey, replacing any other.
    putVaultKey(cryptoKey) {
      return within('keyring', 'readwrite', 'Saving the key vault', async (tx) => {
        await tx.store.put(cryptoKey, 'vault');
      });
    },

    // ---- any stores, for modules that keep their own records (manuscript.js) ----

    /// Runs `fn(tx)` in one transaction over `stores` (a name or a list; `mode` 'readonly' or
    /// 'readwrite', `tx` idb-wrapped) and resolves fn's result once the transaction has committed.
    /// If fn throws or a request fails, the transaction is aborted, so nothing it wrote stays, and
    /// the promise rejects with a StorageError about `what` ("Saving scene 'x'"); a StorageError
    /// thrown by fn passes through unchanged.
    transaction(stores, mode, what, fn) {
      return within(stores, mode, what, fn);
    },

    // ---- the browser's quota ----

    /// navigator.storage.estimate() ({usage, quota, ...}), or null where the browser has none.
    async estimate() {
      if (typeof storageManager?.estimate !== 'function') return null;
      try {
        return await storageManager.estimate();
      } catch (e) {
        throw toStorageError(e, 'Estimating the storage in use');
      }
    },

    /// Asks the browser not to evict this site's data: navigator.storage.persist(), or false where
    /// the browser has none.
    async persist() {
      if (typeof storageManager?.persist !== 'function') return false;
      try {
        return await storageManager.persist();
      } catch (e) {
        throw toStorageError(e, 'Asking the browser to keep this site\'s data');
      }
    },

    // ---- the knowledge base ----

    /// Every knowledge entry, sorted by id.
    listKnowledge() {
      return within('knowledge', 'readonly', 'Reading the knowledge base', (tx) => tx.store.getAll());
    },

    /// The knowledge entry `id`, or undefined.
    getKnowledge(id) {
      return within('knowledge', 'readonly', `Reading knowledge entry '${id}'`, (tx) => tx.store.get(id));
    },

    /// Stores entry `record` ({id, name, text, ...}; `updated` is set) and, in the same
    /// transaction, the index snapshot that includes it ({bytes, fingerprint, ...}): the base and
    /// its index never disagree, and a failed write changes neither. Resolves the stored entry.
    saveKnowledge(record, index) {
      const stored = { ...record, updated: now() };
      return within(['knowledge', 'knowledge_index'], 'readwrite', `Saving knowledge entry '${record?.name ?? record?.id}'`, async (tx) => {
        await tx.objectStore('knowledge').put(stored);
        if (index) await tx.objectStore('knowledge_index').put({ ...index, updated: now() }, 'base');
        return stored;
      });
    },

    /// Deletes entry `id` and stores the index snapshot without it, in one transaction.
    deleteKnowledge(id, index) {
      return within(['knowledge', 'knowledge_index'], 'readwrite', `Deleting knowledge entry '${id}'`, async (tx) => {
        await tx.objectStore('knowledge').delete(id);
        if (index) await tx.objectStore('knowledge_index').put({ ...index, updated: now() }, 'base');
      });
    },

    /// The stored index snapshot {bytes, fingerprint, updated, ...}, or undefined.
    getKnowledgeIndex() {
      return within('knowledge_index', 'readonly', 'Reading the knowledge index', (tx) => tx.store.get('base'));
    },

    /// Replaces the stored index snapshot (after a rebuild).
    putKnowledgeIndex(index) {
      return within('knowledge_index', 'readwrite', 'Saving the knowledge index', async (tx) => {
        await tx.store.put({ ...index, updated: now() }, 'base');
      });
    },

    /// A JSON-able copy of the workflows, runs, events, models file and settings, read in one
    /// transaction: {format: 'loom-export', version, exported, workflows, runs, events: [{run, seq,
    /// event}], models, settings: {key: value}, knowledge: [entries]}. Credentials, the keyring, the
    /// cache and the knowledge index (rebuilt from the entries) are left out.
    exportData() {
      const stores = ['workflows', 'runs', 'events', 'models', 'settings', 'knowledge', 'projects', 'scenes', 'revisions']
        .filter((name) => db.objectStoreNames.contains(name));
      return within(stores, 'readonly', 'Exporting the studio\'s data', async (tx) => {
        const workflows = await tx.objectStore('workflows').getAll();
        const runs = await tx.objectStore('runs').getAll();
        const events = await tx.objectStore('events').getAll();
        const models = await tx.objectStore('models').get('pool');
        const settingKeys = await tx.objectStore('settings').getAllKeys();
        const settingValues = await tx.objectStore('settings').getAll();
        const settings = Object.fromEntries(settingKeys.map((k, i) => [k, settingValues[i]]));
        const all = async (name) => (stores.includes(name) ? tx.objectStore(name).getAll() : []);
        const knowledge = await all('knowledge');
        // The manuscript: its outline, scenes and every revision.
        const manuscript = { projects: await all('projects'), scenes: await all('scenes'), revisions: await all('revisions') };
        return {
          format: 'loom-export', version: db.version, exported: now(), workflows, runs, events,
          models: models ?? null, settings, knowledge, manuscript,
        };
      });
    },
  };
}
