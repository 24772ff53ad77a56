/**
 * The demo's gateway resources: builders producing bodies shaped like API7 Enterprise / Apache APISIX objects
 * (routes, services, upstreams, SSL, consumers, credentials, ...). Secrets (SSL keys, key-auth keys, passwords,
 * tokens) are fake but present, so redaction and diffs have something real to work on.
 */
import type { Random } from './random.js';

export type ResourceType =
  | 'route'
  | 'service'
  | 'upstream'
  | 'ssl'
  | 'consumer'
  | 'credential'
  | 'plugin_metadata'
  | 'global_rule'
  | 'gateway_group'
  | 'secret'
  | 'user';

/** A JSON object as stored in `before` / `after`. */
export type Body = Record<string, unknown>;

export interface Resource {
  type: ResourceType;
  id: string;
  name: string;
  body: Body;
}

/** What the builders need to know about the gateway: which resources exist now. */
export interface Catalog {
  live(type: ResourceType): readonly Resource[];
}

const SERVICE_NAMES = ['orders', 'payments', 'catalog', 'inventory', 'checkout', 'users', 'search', 'shipping',
  'notifications', 'reviews', 'billing', 'auth', 'recommendations', 'media', 'pricing', 'loyalty'] as const;
const CONSUMER_NAMES = ['mobile-app', 'web-frontend', 'partner-acme', 'partner-globex', 'partner-initech', 'ios-app',
  'android-app', 'analytics-batch', 'data-warehouse', 'support-portal', 'legacy-crm', 'iot-hub'] as const;
const ROUTE_ACTIONS = [
  ['list', ['GET'], ''],
  ['get', ['GET'], '/*'],
  ['create', ['POST'], ''],
  ['update', ['PUT', 'PATCH'], '/*'],
  ['delete', ['DELETE'], '/*'],
  ['search', ['GET'], '/search'],
  ['webhook', ['POST'], '/webhooks/*'],
  ['health', ['GET', 'HEAD'], '/healthz'],
] as const;
const TEAMS = ['commerce', 'platform', 'growth', 'identity', 'data'] as const;
const HOSTS = ['api.example.com', 'shop.example.com', 'partners.example.net', 'admin.example.org'] as const;
const SNIS = [...HOSTS, '*.example.com', '*.api.example.com'] as const;
const LOGGERS = ['http-logger', 'kafka-logger', 'datadog', 'loki-logger', 'file-logger', 'syslog'] as const;
const GLOBAL_PLUGINS = ['prometheus', 'request-id', 'cors', 'ip-restriction', 'real-ip', 'limit-count',
  'gzip'] as const;
const GROUPS = ['default', 'prod-us-east', 'prod-eu-west', 'staging', 'dev', 'prod-ap-south'] as const;
const SECRETS = ['vault/prod-vault', 'aws/secrets-manager', 'vault/staging-vault', 'gcp/secret-manager'] as const;
export const ROUTE_PLUGINS = ['limit-count', 'proxy-rewrite', 'key-auth', 'cors', 'limit-req', 'request-id',
  'response-rewrite', 'jwt-auth', 'ip-restriction', 'openid-connect'] as const;

/** Plugin configurations as the dashboard or ADC would send them. */
export function pluginConfig(rng: Random, name: string): Body {
  switch (name) {
    case 'limit-count':
      return { count: rng.pick([100, 300, 1000, 5000]), time_window: rng.pick([1, 60, 3600]), key_type: 'var',
        key: 'remote_addr', rejected_code: 429, policy: 'local' };
    case 'limit-req':
      return { rate: rng.pick([10, 50, 200]), burst: rng.pick([5, 20, 100]), key: 'remote_addr', rejected_code: 503 };
    case 'proxy-rewrite':
      return { regex_uri: ['^/api/v1/(.*)', '/$1'], headers: { set: { 'X-Api-Version': `v${rng.int(1, 3)}` } } };
    case 'cors':
      return { allow_origins: 'https://app.example.com', allow_methods: 'GET,POST,PUT,DELETE',
        max_age: rng.pick([600, 3600, 86400]) };
    case 'ip-restriction':
      return { whitelist: ['10.0.0.0/8', rng.pick(['192.0.2.0/24', '198.51.100.0/24']), '2001:db8::/32'],
        message: 'Access denied' };
    case 'request-id':
      return { header_name: 'X-Request-Id', include_in_response: true, algorithm: rng.pick(['uuid', 'nanoid']) };
    case 'response-rewrite':
      return { headers: { set: { 'Cache-Control': `max-age=${rng.pick([0, 60, 300])}` } } };
    case 'openid-connect':
      return { client_id: 'api7-gateway', client_secret: rng.base64(32), bearer_only: true,
        discovery: 'https://idp.example.com/.well-known/openid-configuration' };
    case 'real-ip':
      return { source: 'http_x_forwarded_for', trusted_addresses: [rng.pick(['10.0.0.0/8', '10.0.40.0/24'])] };
    case 'prometheus':
      return { prefer_name: rng.chance(0.5) };
    case 'gzip':
      return { types: ['application/json', 'text/html'], min_length: 1024, comp_level: rng.int(1, 6) };
    default:
      return {};
  }
}

export function labels(rng: Random): Record<string, string> {
  return { team: rng.pick(TEAMS), env: rng.weighted([['prod', 3], ['staging', 1]] as const) };
}

export function upstreamNode(rng: Random): Body {
  return { host: `10.10.${rng.int(1, 40)}.${rng.int(2, 250)}`, port: rng.pick([80, 8080, 9000]), weight: 100 };
}

/** A fake PEM block: right armor, random base64, far shorter than a real key. */
export function pem(rng: Random, label: string, lines: number): string {
  const body = Array.from({ length: lines }, () => rng.base64(64));
  return [`-----BEGIN ${label}-----`, ...body, `${rng.base64(rng.int(8, 60))}==`, `-----END ${label}-----`].join('\n');
}

function logFormat(rng: Random): Body {
  const format: Body = { host: '$host', '@timestamp': '$time_iso8601', client_ip: '$remote_addr' };
  if (rng.chance(0.5)) format.route_id = '$route_id';
  if (rng.chance(0.5)) format.latency = '$request_time';
  return format;
}

export function authPlugin(rng: Random, consumer: string): Body {
  return rng.chance(0.75)
    ? { 'key-auth': { key: `${consumer}-${rng.hex(24)}` } }
    : { 'basic-auth': { username: consumer, password: rng.base64(20) } };
}

function upstream(rng: Random, service: string): Body {
  const nodes = rng.chance(0.3)
    ? [{ host: `${service}.${service}.svc.cluster.local`, port: 8080, weight: 100 }]
    : Array.from({ length: rng.int(1, 3) }, () => upstreamNode(rng));
  return {
    type: rng.weighted([['roundrobin', 8], ['least_conn', 1], ['chash', 1]] as const),
    nodes,
    scheme: rng.weighted([['http', 4], ['https', 1]] as const),
    timeout: { connect: 6, send: 10, read: rng.pick([10, 30, 60]) },
    retries: rng.int(1, 3),
    pass_host: 'pass',
  };
}

function plugins(rng: Random, pool: readonly string[], max: number): Body {
  const out: Body = {};
  for (let i = rng.int(0, max); i > 0; i--) {
    const name = rng.pick(pool);
    out[name] = pluginConfig(rng, name);
  }
  return out;
}

/** An unused name among `candidates`, or a numbered variant once they are all taken. */
function freshName(rng: Random, catalog: Catalog, type: ResourceType, candidates: readonly string[]): string {
  const taken = new Set(catalog.live(type).map((r) => r.name));
  const free = candidates.filter((name) => !taken.has(name));
  return free.length > 0 ? rng.pick(free) : `${rng.pick(candidates)}-${rng.int(2, 99)}`;
}

/**
 * Builds a new resource of `type`. Routes attach to a live service and credentials to a live consumer, so the
 * catalog must hold at least one of each; `users` are the candidate user names for a new `user`.
 */
export function buildResource(rng: Random, catalog: Catalog, type: ResourceType, users: readonly string[]): Resource {
  const id = type === 'service' || type === 'gateway_group' || type === 'user' ? rng.uuid() : rng.hex(8);
  const make = (name: string, body: Body): Resource => ({ type, id: String(body.id ?? id), name, body });
  switch (type) {
    case 'service': {
      const name = freshName(rng, catalog, type, SERVICE_NAMES);
      return make(name, { id, name, desc: `${name} API`, labels: labels(rng), hosts: [rng.pick(HOSTS)],
        path_prefix: `/${name}`, upstream: upstream(rng, name),
        plugins: plugins(rng, ['key-auth', 'limit-count'], 2) });
    }
    case 'route': {
      const service = rng.pick(catalog.live('service'));
      const [action, methods, suffix] = rng.pick(ROUTE_ACTIONS);
      const name = freshName(rng, catalog, type, [`${service.name}-${action}`]);
      return make(name, { id, name, desc: `${action} ${service.name}`, paths: [`/api/v1/${service.name}${suffix}`],
        methods: [...methods], service_id: service.id, plugins: plugins(rng, ROUTE_PLUGINS, 3), labels: labels(rng),
        priority: 0, status: 1 });
    }
    case 'upstream': {
      const service = rng.pick(SERVICE_NAMES);
      const name = freshName(rng, catalog, type, [`${service}-backend`, `${service}-canary`]);
      const body: Body = { id, name, ...upstream(rng, service), labels: labels(rng) };
      if (rng.chance(0.5)) {
        body.checks = { active: { type: 'http', http_path: '/healthz', healthy: { interval: 5, successes: 2 },
          unhealthy: { interval: 5, http_failures: 3 } } };
      }
      return make(name, body);
    }
    case 'ssl': {
      const snis = [...new Set([rng.pick(SNIS), rng.pick(SNIS)].slice(0, rng.int(1, 2)))];
      return make(snis.join(','), { id, type: 'server', snis, cert: pem(rng, 'CERTIFICATE', 6),
        key: pem(rng, 'PRIVATE KEY', 4), status: 1, labels: labels(rng) });
    }
    case 'consumer': {
      const name = freshName(rng, catalog, type, CONSUMER_NAMES);
      return make(name, { username: name, id: name, desc: `${name} client`, labels: labels(rng),
        plugins: { ...authPlugin(rng, name), ...plugins(rng, ['limit-count'], 1) } });
    }
    case 'credential': {
      const consumer = rng.pick(catalog.live('consumer'));
      const name = `${consumer.name}-${rng.pick(['primary', 'rotation', 'ci', 'backup'])}`;
      return make(name, { id, name, desc: `key for ${consumer.name}`, consumer: consumer.name,
        plugins: { 'key-auth': { key: rng.base64(32) } }, labels: labels(rng) });
    }
    case 'plugin_metadata': {
      const name = freshName(rng, catalog, type, LOGGERS);
      return make(name, { id: name, log_format: logFormat(rng) });
    }
    case 'global_rule': {
      const name = freshName(rng, catalog, type, GLOBAL_PLUGINS);
      return make(name, { id: name, plugins: { [name]: pluginConfig(rng, name) } });
    }
    case 'gateway_group': {
      const name = freshName(rng, catalog, type, GROUPS);
      return make(name, { id, name, description: `${name} data plane`, type: 'api7_gateway',
        labels: { region: name.replace(/^(prod|staging|dev)-?/, '') || 'us-east' },
        enforce_service_publishing: name.startsWith('prod') });
    }
    case 'secret': {
      const name = freshName(rng, catalog, type, SECRETS);
      return make(name, { id: name, uri: `https://${name.replace('/', '-')}.example.internal:8200`,
        prefix: 'kv/apisix', token: `hvs.${rng.base64(40)}` });
    }
    case 'user': {
      const name = freshName(rng, catalog, type, users);
      return make(name, { id, username: name, email: name.includes('@') ? name : `${name}@example.com`,
        roles: [rng.pick(['developer', 'viewer', 'operator'])], state: 'active' });
    }
  }
}
