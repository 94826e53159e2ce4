// The studio's parts for a test: the wasm engine and a fresh in-memory IndexedDB
// (fake-indexeddb), both closed when the test ends.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { loadEngine } from '../src/engine.js';
import { openStorage } from '../src/storage.js';

/// {engine, storage} for test context `t`.
export async function engineAndStorage(t) {
  const engine = await loadEngine();
  const storage = await openStorage({ indexedDB: new IDBFactory() });
  t.after(() => {
    storage.close();
    engine.dispose();
  });
  return { engine, storage };
}
