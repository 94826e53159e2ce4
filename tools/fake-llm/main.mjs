#!/usr/bin/env node
// main.mjs — the fake-llm command: TEST INFRASTRUCTURE, not a real model. It serves the OpenAI,
// Anthropic and Gemini wire protocols with deterministic text so Loom can be tested with no
// provider reachable (README.md beside this file).
//
//   npm run fake-llm -- [--port 8090] [--host 127.0.0.1] [--chunk-delay 5] [--log]
//
// The first line on stdout is always
//   fake-llm listening on http://127.0.0.1:PORT (test infrastructure, not a real model)
// so a test can start it with --port 0 and read the port. SIGINT or SIGTERM stops it (exit 0).
import { startFakeLlm } from './server.mjs';

const USAGE = `usage: fake-llm [--port N] [--host HOST] [--chunk-delay MS] [--log]

A local fake of the OpenAI, Anthropic and Gemini APIs for tests (not a real model).
  --port N          port to listen on (default 8090; 0 picks a free one)
  --host HOST       address to listen on (default 127.0.0.1)
  --chunk-delay MS  pause between streamed deltas in milliseconds (default 5)
  --log             print one line per provider request on stderr (never a key)
See tools/fake-llm/README.md.`;

function parseArgs(argv) {
  const opts = { port: 8090, host: '127.0.0.1', chunkDelayMs: 5, log: false };
  const number = (flag, v) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${flag} needs a whole number, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--port': opts.port = number(flag, value()); break;
      case '--host': opts.host = value(); if (!opts.host) throw new Error('--host needs an address'); break;
      case '--chunk-delay': opts.chunkDelayMs = number(flag, value()); break;
      case '--log': opts.log = true; break;
      case '-h':
      case '--help': opts.help = true; break;
      default: throw new Error(`unknown argument ${JSON.stringify(argv[i])}`);
    }
  }
  if (opts.port > 65535) throw new Error('--port must be at most 65535');
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`fake-llm: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

// The handlers are in place before the first line is printed: a test may signal as soon as it reads it.
let fake = null;
let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`fake-llm: ${signal}, stopping\n`);
  (fake ? fake.close() : Promise.resolve()).then(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

try {
  fake = await startFakeLlm({
    port: opts.port,
    host: opts.host,
    chunkDelayMs: opts.chunkDelayMs,
    log: opts.log ? (line) => process.stderr.write(`fake-llm: ${line}\n`) : null,
  });
} catch (e) {
  process.stderr.write(`fake-llm: cannot listen on ${opts.host}:${opts.port}: ${e.message}\n`);
  process.exit(1);
}
if (!stopping) process.stdout.write(`fake-llm listening on ${fake.url} (test infrastructure, not a real model)\n`);
