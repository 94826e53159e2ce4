// client.mjs — the tests' side of the fake's control API (/_fake/...): queue faults or scripted
// replies for a model, read the counters and the request log. Node's fetch only.
//
//   await scriptReplies(fake.url, 'local-b', ['first rewrite', 'second rewrite']);
//   (await fakeStats(fake.url))['local-b'].completed   // -> 2 once both were asked for

/// Appends `faults` to `model`'s queue; throws when the fake refuses them.
export async function queueFaults(url, model, faults) {
  const r = await fetch(`${url}/_fake/faults`, { method: 'POST', body: JSON.stringify({ model, faults }) });
  if (r.status !== 200) throw new Error(`the fake refused the faults: ${r.status} ${await r.text()}`);
  return r.json();
}

/// The next answers of `model`, in order: each text instead of the made-up one (the `reply` fault).
export function scriptReplies(url, model, texts) {
  return queueFaults(url, model, texts.map((text) => ({ type: 'reply', text })));
}

/// The counters per model: {"<model>": {requests, completed, faults, streamed}}.
export async function fakeStats(url) {
  return (await (await fetch(`${url}/_fake/stats`)).json()).models;
}

/// The last provider requests, oldest first ({protocol, path, model, stream, body, auth}).
export async function fakeRequests(url) {
  return (await fetch(`${url}/_fake/requests`)).json();
}
