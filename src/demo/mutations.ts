/**
 * Edits for the demo's UPDATE and PATCH entries: each changes one field the way a person or a pipeline would
 * (raise a rate limit, add a node, rotate a key), so `diff` on a demo entry shows a small, meaningful change.
 */
import type { Random } from './random.js';
import {
  authPlugin,
  labels,
  pem,
  pluginConfig,
  ROUTE_PLUGINS,
  upstreamNode,
  type Body,
  type ResourceType,
} from './resources.js';

type Edit = (body: Body, rng: Random) => void;

function objectAt(body: Body, key: string): Body {
  const value = body[key];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Body;
  const created: Body = {};
  body[key] = created;
  return created;
}

function arrayAt(body: Body, key: string): unknown[] {
  const value = body[key];
  if (Array.isArray(value)) return value;
  const created: unknown[] = [];
  body[key] = created;
  return created;
}

const editDesc: Edit = (body, rng) => {
  const text = String(body.desc ?? body.description ?? '');
  body[body.description === undefined ? 'desc' : 'description'] =
    `${text.replace(/ \(.*\)$/, '')} (${rng.pick(['owner: commerce', 'deprecated', 'see RUNBOOK-42', 'v2'])})`;
};
const editLabels: Edit = (body, rng) => {
  body.labels = { ...objectAt(body, 'labels'), ...labels(rng), [rng.pick(['tier', 'cost-center'])]: rng.hex(4) };
};
const addPlugin: Edit = (body, rng) => {
  const name = rng.pick(ROUTE_PLUGINS);
  objectAt(body, 'plugins')[name] = pluginConfig(rng, name);
};
const removePlugin: Edit = (body, rng) => {
  const plugins = objectAt(body, 'plugins');
  const names = Object.keys(plugins);
  if (names.length === 0) return addPlugin(body, rng);
  delete plugins[rng.pick(names)];
};
const tuneRateLimit: Edit = (body, rng) => {
  const plugins = objectAt(body, 'plugins');
  const current = plugins['limit-count'] as Body | undefined;
  plugins['limit-count'] = { ...(current ?? pluginConfig(rng, 'limit-count')), count: rng.pick([50, 200, 500, 2000]) };
};
const editMethods: Edit = (body, rng) => {
  const methods = arrayAt(body, 'methods');
  const extra = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS']);
  const drop = methods.includes(extra) && methods.length > 1;
  body.methods = drop ? methods.filter((m) => m !== extra) : [...new Set([...methods, extra])];
};
const editPaths: Edit = (body) => {
  const paths = arrayAt(body, 'paths').map(String);
  const first = paths[0] ?? '/api/v1';
  body.paths = paths.length > 1 ? [first] : [first, first.replace('/v1/', '/v2/')];
};
const toggleStatus: Edit = (body) => {
  body.status = body.status === 0 ? 1 : 0;
};
const scaleNodes: Edit = (body, rng) => {
  const nodes = arrayAt(body, 'nodes') as Body[];
  const shrink = nodes.length >= 4 || (nodes.length > 1 && rng.chance(0.5));
  body.nodes = shrink ? nodes.slice(0, -1) : [...nodes, upstreamNode(rng)];
};
const reweightNodes: Edit = (body, rng) => {
  const nodes = arrayAt(body, 'nodes') as Body[];
  const weight = rng.pick([0, 10, 50, 100]);
  body.nodes = nodes.map((node, i) => (i === nodes.length - 1 ? { ...node, weight } : node));
};
const editTimeout: Edit = (body, rng) => {
  body.timeout = { ...objectAt(body, 'timeout'), read: rng.pick([5, 15, 30, 60, 120]) };
};
const editRetries: Edit = (body, rng) => {
  body.retries = rng.int(0, 5);
};
const editBalancer: Edit = (body, rng) => {
  body.type = body.type === 'roundrobin' ? rng.pick(['least_conn', 'ewma']) : 'roundrobin';
};
const inUpstream = (edit: Edit): Edit => (body, rng) => edit(objectAt(body, 'upstream'), rng);
const editHosts: Edit = (body, rng) => {
  const hosts = arrayAt(body, 'hosts').map(String);
  const extra = rng.pick(['api-v2.example.com', 'api.example.net', 'internal.example.org']);
  body.hosts = hosts.length > 1 ? hosts.slice(0, 1) : [...new Set([...hosts, extra])];
};
const rotateCertificate: Edit = (body, rng) => {
  body.cert = pem(rng, 'CERTIFICATE', 6);
  body.key = pem(rng, 'PRIVATE KEY', 4);
};
const editSnis: Edit = (body, rng) => {
  const extra = rng.pick(['www.example.com', 'm.example.com', 'cdn.example.com']);
  body.snis = [...new Set([...arrayAt(body, 'snis'), extra])];
};
const rotateAuth: Edit = (body, rng) => {
  const plugins = objectAt(body, 'plugins');
  const consumer = String(body.username ?? body.consumer ?? 'client');
  if ('basic-auth' in plugins) Object.assign(plugins, authPlugin(rng, consumer));
  else plugins['key-auth'] = { key: `${consumer}-${rng.hex(24)}` };
};
const editLogFormat: Edit = (body, rng) => {
  const format = { ...objectAt(body, 'log_format') };
  const [field, variable] = rng.pick([
    ['upstream', '$upstream_addr'],
    ['status', '$status'],
    ['consumer', '$consumer_name'],
    ['route_id', '$route_id'],
  ] as const);
  if (field in format) delete format[field];
  else format[field] = variable;
  body.log_format = format;
};
const editGlobalPlugin: Edit = (body, rng) => {
  const plugins = objectAt(body, 'plugins');
  for (const name of Object.keys(plugins)) plugins[name] = { ...objectAt(plugins, name), ...pluginConfig(rng, name) };
};
const toggleGlobalPlugin: Edit = (body) => {
  const plugins = objectAt(body, 'plugins');
  for (const name of Object.keys(plugins)) {
    const config = objectAt(plugins, name);
    config._meta = { disable: objectAt(config, '_meta').disable !== true };
  }
};
const togglePublishing: Edit = (body) => {
  body.enforce_service_publishing = body.enforce_service_publishing !== true;
};
const rotateToken: Edit = (body, rng) => {
  body.token = `hvs.${rng.base64(40)}`;
};
const editSecretPrefix: Edit = (body, rng) => {
  body.prefix = `kv/${rng.pick(['apisix', 'gateway', 'api7'])}`;
};
const editRoles: Edit = (body, rng) => {
  body.roles = [rng.pick(['developer', 'viewer', 'operator', 'admin', 'auditor'])];
};
const toggleMfa: Edit = (body) => {
  body.mfa_required = body.mfa_required !== true;
};

const EDITS: Record<ResourceType, readonly Edit[]> = {
  route: [tuneRateLimit, addPlugin, removePlugin, editMethods, editPaths, toggleStatus, editDesc, editLabels],
  service: [inUpstream(scaleNodes), inUpstream(reweightNodes), inUpstream(editTimeout), editHosts, addPlugin, editDesc],
  upstream: [scaleNodes, reweightNodes, editTimeout, editRetries, editBalancer, editLabels],
  ssl: [rotateCertificate, rotateCertificate, editSnis, toggleStatus, editLabels],
  consumer: [rotateAuth, tuneRateLimit, editDesc, editLabels],
  credential: [rotateAuth, rotateAuth, editDesc, editLabels],
  plugin_metadata: [editLogFormat],
  global_rule: [editGlobalPlugin, editGlobalPlugin, toggleGlobalPlugin],
  gateway_group: [editDesc, editLabels, togglePublishing],
  secret: [rotateToken, rotateToken, editSecretPrefix],
  user: [editRoles, editRoles, toggleMfa],
};

/**
 * A changed copy of `body` with `edits` (1 to 3) distinct edits applied; the original is left alone. Some edits
 * toggle or may pick the current value, so more edits follow, one at a time, until the copy differs.
 */
export function editBody(type: ResourceType, body: Body, rng: Random, edits: number): Body {
  const original = JSON.stringify(body);
  const copy = structuredClone(body);
  const remaining = [...EDITS[type]];
  for (let applied = 0; remaining.length > 0; applied++) {
    if (applied >= edits && JSON.stringify(copy) !== original) break;
    remaining.splice(rng.int(0, remaining.length - 1), 1)[0]?.(copy, rng);
  }
  return copy;
}
