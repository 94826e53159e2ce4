// credentials.js: the key vault over storage.js (fake-indexeddb) and node's WebCrypto.
import 'fake-indexeddb/auto';
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import { openStorage, StorageError } from '../src/storage.js';
import { openVault } from '../src/credentials.js';

const SECRET = 'sk-test-0123456789abcdefghijklmnopqrstuvwxyz';

async function withVault(fn) {
  const indexedDB = new IDBFactory();
  const storage = await openStorage({ indexedDB });
  try {
    return await fn(await openVault(storage), storage, indexedDB);
  } finally {
    await storage.close();
  }
}

async function rejectsWith(promise, code, { notContaining = [] } = {}) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof StorageError, `a StorageError, got ${e?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    for (const s of notContaining) {
      assert.ok(!e.message.includes(s), 'the message does not echo the secret');
      assert.ok(!String(e.stack).includes(s), 'nor does the stack');
    }
    return true;
  });
}

// Whether `needle` occurs in `bytes`.
function containsBytes(bytes, needle) {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function bytesOf(value) {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset,
    value.byteLength);
}

// Every record of the credentials store, read with the raw API on a second connection.
async function rawRecords(indexedDB, store) {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open('loom');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const req = db.transaction(store).objectStore(store).getAll();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

async function clearRaw(indexedDB, store) {
  const db = await new Promise((resolve) => {
    const req = indexedDB.open('loom');
    req.onsuccess = () => resolve(req.result);
  });
  await new Promise((resolve) => {
    const tx = db.transaction(store, 'readwrite');
    tx.objectStore(store).clear();
    tx.oncomplete = resolve;
  });
  db.close();
}

test('a key round trips; hasKey, names and deleteKey', async () => {
  await withVault(async (vault) => {
    assert.equal(await vault.getKey('OPENAI_API_KEY'), null);
    assert.equal(await vault.hasKey('OPENAI_API_KEY'), false);
    await vault.setKey('OPENAI_API_KEY', SECRET);
    await vault.setKey('ANTHROPIC_API_KEY', `  sk-ant-ünïcode-🔑\n`);
    assert.equal(await vault.getKey('OPENAI_API_KEY'), SECRET);
    assert.equal(await vault.getKey('ANTHROPIC_API_KEY'), 'sk-ant-ünïcode-🔑', 'trimmed; UTF-8 survives');
    assert.equal(await vault.hasKey('OPENAI_API_KEY'), true);
    assert.deepEqual(await vault.names(), ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY']);
    await vault.setKey('OPENAI_API_KEY', 'sk-replaced');
    assert.equal(await vault.getKey('OPENAI_API_KEY'), 'sk-replaced');
    await vault.deleteKey('OPENAI_API_KEY');
    assert.equal(await vault.getKey('OPENAI_API_KEY'), null);
    assert.deepEqual(await vault.names(), ['ANTHROPIC_API_KEY']);
  });
});

test('the stored record holds neither the secret text nor its bytes', async () => {
  await withVault(async (vault, storage, indexedDB) => {
    await vault.setKey('OPENAI_API_KEY', SECRET);
    const needle = new TextEncoder().encode(SECRET);
    const record = await storage.getCredentialRecord('OPENAI_API_KEY');
    assert.deepEqual(Object.keys(record).sort(), ['data', 'iv', 'name', 'updated']);
    assert.ok(record.iv instanceof Uint8Array);
    assert.equal(record.iv.length, 12);
    assert.ok(!containsBytes(bytesOf(record.data), needle), 'not in the ciphertext');
    assert.ok(!containsBytes(bytesOf(record.iv), needle), 'not in the IV');
    assert.equal(bytesOf(record.data).length, needle.length + 16, 'ciphertext plus a 16-byte tag');
    // A dump of the whole store: every field, binary ones as bytes and as the text they decode to.
    const dump = JSON.stringify(await rawRecords(indexedDB, 'credentials'), (k, v) => {
      if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
        const bytes = bytesOf(v);
        return { bytes: [...bytes], latin1: String.fromCharCode(...bytes), utf8: new TextDecoder().decode(bytes) };
      }
      return v;
    });
    assert.ok(dump.includes('OPENAI_API_KEY'), 'the dump does hold the record');
    assert.ok(!dump.includes(SECRET), 'no secret text anywhere in the store');
    assert.ok(!dump.includes(SECRET.slice(0, 12)), 'not even its start');
    const keyring = await rawRecords(indexedDB, 'keyring');
    assert.equal(keyring.length, 1);
    assert.ok(keyring[0] instanceof CryptoKey, 'the keyring holds a CryptoKey, not raw key bytes');
  });
});

test('two encryptions of one secret differ (a fresh IV each time)', async () => {
  await withVault(async (vault, storage) => {
    await vault.setKey('A_KEY', SECRET);
    const first = await storage.getCredentialRecord('A_KEY');
    await vault.setKey('A_KEY', SECRET);
    const second = await storage.getCredentialRecord('A_KEY');
    assert.notDeepEqual([...first.iv], [...second.iv]);
    assert.notDeepEqual([...bytesOf(first.data)], [...bytesOf(second.data)]);
    assert.equal(await vault.getKey('A_KEY'), SECRET);
  });
});

test('the vault key is generated once, non-extractable, and reused', async () => {
  await withVault(async (vault, storage) => {
    await vault.setKey('A_KEY', 'one');
    const key = await storage.getVaultKey();
    assert.ok(key instanceof CryptoKey);
    assert.equal(key.extractable, false);
    assert.deepEqual(key.algorithm, { name: 'AES-GCM', length: 256 });
    assert.deepEqual([...key.usages].sort(), ['decrypt', 'encrypt']);
    await assert.rejects(crypto.subtle.exportKey('raw', key));
    await assert.rejects(crypto.subtle.exportKey('jwk', key));
    await vault.setKey('B_KEY', 'two');
    const again = await openVault(storage);
    await again.setKey('C_KEY', 'three');
    assert.equal(await again.getKey('A_KEY'), 'one', 'a second vault on the same storage decrypts');
    // The keyring still holds one key, the same one: it decrypts what was stored first.
    const stored = await storage.getVaultKey();
    const record = await storage.getCredentialRecord('A_KEY');
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: record.iv, additionalData: new TextEncoder().encode('A_KEY') }, stored, record.data);
    assert.equal(new TextDecoder().decode(plain), 'one');
  });
});

test('a record copied to another name does not decrypt: undecryptable', async () => {
  await withVault(async (vault, storage) => {
    await vault.setKey('OPENAI_API_KEY', SECRET);
    const record = await storage.getCredentialRecord('OPENAI_API_KEY');
    await storage.putCredentialRecord({ ...record, name: 'EVIL_KEY' });
    await rejectsWith(vault.getKey('EVIL_KEY'), 'undecryptable', { notContaining: [SECRET] });
    assert.equal(await vault.getKey('OPENAI_API_KEY'), SECRET, 'the original still decrypts');
  });
});

test('a lost or replaced keyring makes stored keys undecryptable, with a message saying what to do', async () => {
  await withVault(async (vault, storage, indexedDB) => {
    await vault.setKey('OPENAI_API_KEY', SECRET);
    await clearRaw(indexedDB, 'keyring');
    await rejectsWith(vault.getKey('OPENAI_API_KEY'), 'undecryptable');
    await assert.rejects(vault.getKey('OPENAI_API_KEY'), /Settings > Models/);
    assert.equal(await storage.getVaultKey(), undefined, 'reading does not create a key');

    await vault.setKey('OPENAI_API_KEY', SECRET);  // entering it again works, under a new key
    assert.equal(await vault.getKey('OPENAI_API_KEY'), SECRET);
    await storage.putVaultKey(await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false,
      ['encrypt', 'decrypt']));
    await rejectsWith(vault.getKey('OPENAI_API_KEY'), 'undecryptable', { notContaining: [SECRET] });
  });
});

test('bad names and empty secrets are refused with bad_argument, without echoing them', async () => {
  await withVault(async (vault) => {
    for (const name of ['', '1KEY', 'OPENAI-KEY', 'A KEY', 'KEY\n', SECRET, null, 42]) {
      await rejectsWith(vault.setKey(name, SECRET), 'bad_argument', { notContaining: [SECRET] });
      await rejectsWith(vault.getKey(name), 'bad_argument', { notContaining: [SECRET] });
      await rejectsWith(vault.hasKey(name), 'bad_argument');
      await rejectsWith(vault.deleteKey(name), 'bad_argument');
    }
    for (const secret of ['', '   ', '\n\t', null, undefined, 42]) {
      await rejectsWith(vault.setKey('A_KEY', secret), 'bad_argument');
    }
    assert.deepEqual(await vault.names(), [], 'nothing was stored');
    await vault.setKey('_private2', 'ok');
    assert.equal(await vault.getKey('_private2'), 'ok');
  });
});

test('without WebCrypto the vault is unavailable', async () => {
  await withVault(async (vault, storage) => {
    await rejectsWith(openVault(storage, { crypto: {} }), 'unavailable');
    await rejectsWith(openVault(storage, { crypto: null }), 'unavailable');
  });
});
