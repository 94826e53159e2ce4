// credentials.js — the studio's API keys, encrypted with WebCrypto before they reach storage.
// One AES-GCM 256 key, generated once as non-extractable, lives in storage's keyring; each secret
// is encrypted with a fresh random 12-byte IV and its credential name as additional data, so a
// ciphertext copied under another name does not decrypt. Nothing here logs, and no error message
// contains a secret (or a name that failed validation: it may be a key pasted into the wrong field).
//
//   const vault = await openVault(storage);
//   await vault.setKey('OPENAI_API_KEY', pasted);
//   const key = await vault.getKey('OPENAI_API_KEY');   // only host.js calls this, when it calls a model

import { StorageError } from './storage.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IV_BYTES = 12;
const ALGORITHM = { name: 'AES-GCM', length: 256 };

function checkName(name) {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new StorageError('bad_argument', 'A credential name is letters, digits and underscores, not starting ' +
      'with a digit (like OPENAI_API_KEY); the name given is not one.');
  }
}

function undecryptable(name, cause) {
  return new StorageError('undecryptable', `The stored key ${name} cannot be decrypted: the browser's key vault ` +
    'was cleared or the record was damaged. Enter the key again in Settings > Models.', { cause });
}

/// The key vault over `storage` (an openStorage() result), using `crypto` (WebCrypto). Creates the
/// vault's AES-GCM key on first use. Methods reject with StorageError: 'bad_argument' (a bad name or
/// an empty secret), 'undecryptable' (getKey on a record the vault's key cannot open), and storage's
/// own codes. openVault rejects 'unavailable' when WebCrypto is missing (a page not served over
/// https or from localhost).
export async function openVault(storage, { crypto = globalThis.crypto } = {}) {
  const subtle = crypto?.subtle;
  if (!subtle) {
    throw new StorageError('unavailable', 'This page has no WebCrypto, so it cannot keep API keys safely. Open the ' +
      'studio over https or from localhost.');
  }
  const encoder = new TextEncoder();

  // The key in the keyring now, created when there is none. Read on every use so that tabs agree:
  // when two tabs create one at once, the one stored last is the one both use from then on.
  async function vaultKey({ create }) {
    const stored = await storage.getVaultKey();
    if (stored || !create) return stored;
    const fresh = await subtle.generateKey(ALGORITHM, false, ['encrypt', 'decrypt']);
    await storage.putVaultKey(fresh);
    return storage.getVaultKey();
  }

  return {
    /// Encrypts `secret` (trimmed; must not be empty) and stores it as credential `name`,
    /// replacing any earlier key of that name.
    async setKey(name, secret) {
      checkName(name);
      const text = typeof secret === 'string' ? secret.trim() : '';
      if (!text) {
        throw new StorageError('bad_argument', `The key for ${name} is empty; paste the whole key and save again.`);
      }
      const key = await vaultKey({ create: true });
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const data = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(name) }, key,
        encoder.encode(text));
      await storage.putCredentialRecord({ name, iv, data });
    },

    /// The decrypted key of credential `name`, or null when none is stored. Rejects
    /// 'undecryptable' when it is stored but cannot be decrypted.
    async getKey(name) {
      checkName(name);
      const record = await storage.getCredentialRecord(name);
      if (!record) return null;
      const key = await vaultKey({ create: false });
      if (!key) throw undecryptable(name);
      try {
        const plain = await subtle.decrypt({ name: 'AES-GCM', iv: record.iv, additionalData: encoder.encode(name) },
          key, record.data);
        return new TextDecoder('utf-8', { fatal: true }).decode(plain);
      } catch (e) {
        throw undecryptable(name, e);
      }
    },

    /// Whether a key is stored for `name` (it is not decrypted).
    async hasKey(name) {
      checkName(name);
      return (await storage.getCredentialRecord(name)) !== undefined;
    },

    /// Forgets the key of credential `name` (nothing if there is none).
    async deleteKey(name) {
      checkName(name);
      await storage.deleteCredentialRecord(name);
    },

    /// The names of the stored keys, sorted.
    names() {
      return storage.listCredentialNames();
    },
  };
}
