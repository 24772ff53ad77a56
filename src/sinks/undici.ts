/**
 * The parts of undici the HTTP sinks use, from undici's own modules rather than its index: the index loads all of
 * undici (fetch, WebSocket, caches, mocks) and, through them, Node.js's own copy of undici, 136 M instructions (about
 * 25 ms) of every export's start against 96 M for these (callgrind, an empty script importing each way). undici has
 * no "exports" map; a path that moves fails the build. Types: undici-internals.d.ts.
 */
import Agent from 'undici/lib/dispatcher/agent.js';
import EnvHttpProxyAgent from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';

// What undici's index does as it loads, and so what its own modules expect: request, stream, pipeline, upgrade and
// connect on every dispatcher (ProxyAgent opens its tunnel with `client.connect`: without it every export through a
// proxy failed, found by H49). Done once, as this module loads, before any dispatcher exists; a method already there
// is kept.
for (const [name, method] of Object.entries(api)) (DispatcherClass.prototype as unknown as Record<string, unknown>)[name] ??= method;

export { Agent, EnvHttpProxyAgent };
