/**
 * The SQL that seeds a benchmark table: realistic API7 audit entries built by the server from generate_series,
 * deterministic (every value is a function of the row number), about 1 KB of JSON per entry.
 *
 * Bodies (`before` / `after`) come from a small table of 256 variants per resource type, built first with the
 * expensive jsonb constructors; each entry then takes one variant and stamps its own `update_time` and `revision`
 * on it. That keeps the seed of a million entries at seconds instead of minutes, while every entry stays distinct.
 */

/**
 * `default`: about 1 KB of JSON per entry, mostly ASCII. `small`: about 550 bytes, where most entries carry CJK text
 * (operator and resource names, descriptions), as API7's users write them: more rows per megabyte, so the export's
 * per-entry costs weigh more, and most rows hold multi-byte characters.
 */
export type Shape = 'default' | 'small';
export const SHAPES: readonly Shape[] = ['default', 'small'];

/** Bumped whenever the generated data changes, so an older seed of the same size is rebuilt, not reused. */
export const SEED_VERSION: Record<Shape, number> = { default: 3, small: 1 };

export const BODY_VARIANTS = 1024;

/** The 20 operators: the first ones act far more often (a skewed, realistic mix); the last is very rare. */
interface Operator {
  name: string;
  ip: string;
  altIp: string;
  source: 'dashboard' | 'api' | 'adc';
}

export const OPERATORS: readonly Operator[] = [
  { name: 'alice@example.com', ip: '10.0.12.34', altIp: '2001:db8:4a1:12::1f', source: 'dashboard' },
  { name: 'apikey:ci-deployer', ip: '192.0.2.10', altIp: '192.0.2.11', source: 'api' },
  { name: 'adc-sync', ip: '10.0.40.2', altIp: '2001:db8:40::2', source: 'adc' },
  { name: 'bob', ip: '10.0.7.88', altIp: '198.51.100.23', source: 'dashboard' },
  { name: 'carol.ops', ip: '2001:db8:85a3::8a2e:370:7334', altIp: '10.0.3.15', source: 'dashboard' },
  { name: 'terraform', ip: '2001:db8:ffff::10', altIp: '2001:db8:ffff::11', source: 'api' },
  { name: 'dave@example.com', ip: '192.0.2.44', altIp: '198.51.100.61', source: 'dashboard' },
  { name: 'erin.sre', ip: '2001:db8:1::5', altIp: '10.0.9.200', source: 'dashboard' },
  { name: 'apikey:backstage-sync', ip: '10.0.41.7', altIp: '10.0.41.8', source: 'api' },
  { name: 'admin', ip: '10.0.0.5', altIp: '10.0.0.6', source: 'dashboard' },
  { name: 'frank@example.com', ip: '198.51.100.77', altIp: '198.51.100.78', source: 'dashboard' },
  { name: 'grace', ip: '10.0.14.2', altIp: '10.0.14.3', source: 'dashboard' },
  { name: 'heidi@example.com', ip: '10.0.15.9', altIp: '2001:db8:15::9', source: 'dashboard' },
  { name: 'ivan.dev', ip: '10.0.16.21', altIp: '10.0.16.22', source: 'dashboard' },
  { name: 'judy', ip: '10.0.17.4', altIp: '10.0.17.5', source: 'dashboard' },
  { name: 'mallory.contractor', ip: '203.0.113.50', altIp: '203.0.113.51', source: 'dashboard' },
  { name: 'niaj@example.com', ip: '10.0.18.30', altIp: '10.0.18.31', source: 'dashboard' },
  { name: 'olivia.sec', ip: '10.0.19.3', altIp: '10.0.19.4', source: 'api' },
  { name: 'apikey:gitops-argo', ip: '10.0.42.8', altIp: '10.0.42.9', source: 'adc' },
  { name: 'breakglass@example.com', ip: '203.0.113.200', altIp: '203.0.113.201', source: 'dashboard' },
];

/**
 * The small shape's operators: the same addresses, sources and skew, most names in Chinese. `bob` and the break-glass
 * account keep their names, so the list figures' filters select the same shares of either seed.
 */
export const SMALL_OPERATORS: readonly Operator[] = OPERATORS.map((o, index) => ({
  ...o,
  name: ['张伟@example.cn', 'apikey:持续部署', 'adc-sync', 'bob', '王芳.运维', 'terraform', '李娜@example.cn', '刘洋.sre', 'apikey:后台同步',
    '管理员', '陈静@example.cn', '杨磊', '赵敏@example.cn', '黄强.开发', '周杰', '吴婷.外包', '徐明@example.cn', '孙丽.安全', 'apikey:gitops-argo',
    'breakglass@example.com'][index] ?? o.name,
}));

const operatorsOf = (shape: Shape) => (shape === 'small' ? SMALL_OPERATORS : OPERATORS);

/** One entry in RARE_EVERY goes to the last operator (a break-glass account): 0.01 % of the table. */
const RARE_EVERY = 10_000;

export const RESOURCE_TYPES = ['route', 'service', 'upstream', 'consumer', 'credential', 'ssl', 'plugin_metadata', 'global_rule',
  'gateway_group', 'secret', 'user'] as const;

/** SQL text literal; only ever applied to the constants in this file. */
const lit = (text: string) => `'${text.replaceAll("'", "''")}'`;
const textArray = (values: readonly string[]) => `array[${values.map(lit).join(', ')}]`;

/** `create table ... ; insert ...` for the body variants; `v` is the variant number, `i` a per-variant seed. */
export function bodiesSql(schema: string, shape: Shape = 'default'): string {
  return `
create unlogged table ${schema}.bench_bodies (type text not null, variant int not null, doc jsonb not null, primary key (type, variant));
insert into ${schema}.bench_bodies (type, variant, doc)
select t.type, v, ${shape === 'small' ? smallBodyExpression() : bodyExpression()}
from generate_series(0, ${BODY_VARIANTS - 1}) as v
cross join unnest(${textArray(RESOURCE_TYPES)}) as t(type)
cross join lateral (select v * 7919 + 17 as i) as s
cross join lateral (select (s.i::bigint * 2654435761) % 4294967296 as a, (s.i::bigint * 40503 + 12345) % 1000003 as b,
                           (s.i::bigint * 69069 + 1) % 999983 as c) as h;
analyze ${schema}.bench_bodies;`;
}

/** A gateway object shaped like API7 / APISIX ones: plugins, secrets, quotes, backslashes and unicode. */
function bodyExpression(): string {
  return `case t.type
  when 'route' then jsonb_build_object(
    'id', 'r-' || to_hex(4096 + v), 'name', 'orders-list-' || v, 'desc', 'list orders for "partner ' || v || '" — Zürich café 東京',
    'paths', jsonb_build_array('/api/v1/orders/' || (h.b % 90) || '/*'), 'methods', jsonb_build_array('GET', 'POST'),
    'service_id', 'svc-' || to_hex(256 + h.b % 300), 'priority', 0, 'status', 1,
    'labels', jsonb_build_object('team', (array['commerce','platform','growth','identity','data'])[1 + h.a % 5], 'env', 'prod'),
    'plugins', jsonb_strip_nulls(jsonb_build_object(
      'limit-count', case when h.a % 5 < 2 then jsonb_build_object('count', 1000, 'time_window', 60, 'key_type', 'var',
        'key', 'remote_addr', 'rejected_code', 429, 'policy', 'local') end,
      'proxy-rewrite', case when h.b % 2 = 0 then jsonb_build_object('regex_uri', jsonb_build_array('^/api/v1/(\\d+)/(.*)', '/$2'),
        'headers', jsonb_build_object('set', jsonb_build_object('X-Api-Version', 'v2', 'X-Log-Path', 'C:\\gw\\logs\\"audit"'))) end,
      'cors', case when h.c % 3 = 0 then jsonb_build_object('allow_origins', 'https://app.example.com',
        'allow_methods', 'GET,POST,PUT,DELETE', 'max_age', 3600) end,
      'openid-connect', case when h.c % 10 = 1 then jsonb_build_object('client_id', 'api7-gateway', 'client_secret', md5('oidc' || s.i),
        'bearer_only', true, 'discovery', 'https://idp.example.com/.well-known/openid-configuration') end,
      'key-auth', case when h.a % 4 = 3 then '{}'::jsonb end,
      'request-id', jsonb_build_object('header_name', 'X-Request-Id', 'include_in_response', true, 'algorithm', 'uuid'))))
  when 'service' then jsonb_build_object(
    'id', 'svc-' || to_hex(256 + v), 'name', (array['orders','payments','catalog','inventory','checkout','users'])[1 + h.a % 6],
    'desc', 'payments API ✓ «v' || (h.b % 10) || '»', 'hosts', jsonb_build_array('api.example.com'), 'path_prefix', '/payments',
    'labels', jsonb_build_object('team', 'commerce', 'env', 'prod'),
    'upstream', jsonb_build_object('type', 'roundrobin', 'scheme', 'http', 'retries', 2, 'pass_host', 'pass',
      'timeout', jsonb_build_object('connect', 6, 'send', 10, 'read', 30),
      'nodes', jsonb_build_array(jsonb_build_object('host', '10.10.' || (h.a % 40) || '.' || (h.b % 250), 'port', 8080, 'weight', 100),
                                 jsonb_build_object('host', '10.10.' || (h.c % 40) || '.' || (h.a % 250), 'port', 8080, 'weight', 100))),
    'version', '1.' || (h.b % 10) || '.' || (h.c % 10),
    'plugins', case when h.c % 4 = 0 then jsonb_build_object('limit-count', jsonb_build_object('count', 5000, 'time_window', 3600,
      'key_type', 'var', 'key', 'consumer_name', 'rejected_code', 429)) else '{}'::jsonb end)
  when 'upstream' then jsonb_build_object(
    'id', 'ups-' || to_hex(256 + v), 'name', 'catalog-backend', 'desc', 'catalog backend (blue/green)', 'type', 'least_conn',
    'scheme', 'https', 'retries', 3, 'pass_host', 'pass',
    'nodes', jsonb_build_array(jsonb_build_object('host', '10.10.' || (h.a % 40) || '.' || (h.b % 250), 'port', 9000, 'weight', 100),
                               jsonb_build_object('host', 'catalog.catalog.svc.cluster.local', 'port', 9000, 'weight', 10)),
    'timeout', jsonb_build_object('connect', 6, 'send', 10, 'read', 60),
    'checks', jsonb_build_object('active', jsonb_build_object('type', 'http', 'http_path', '/healthz',
      'healthy', jsonb_build_object('interval', 5, 'successes', 2), 'unhealthy', jsonb_build_object('interval', 5, 'http_failures', 3))),
    'labels', jsonb_build_object('team', 'platform', 'env', 'staging'))
  when 'consumer' then jsonb_build_object(
    'username', 'partner-' || v, 'desc', 'partner "acme-' || v || '" client — ünïcödé', 'labels', jsonb_build_object('team', 'growth', 'tier', 'gold'),
    'plugins', case when h.b % 4 < 3 then jsonb_build_object('key-auth', jsonb_build_object('key', 'partner-' || md5('k' || s.i)),
                                                            'limit-count', jsonb_build_object('count', 300, 'time_window', 60, 'key', 'consumer_name'))
                    else jsonb_build_object('basic-auth', jsonb_build_object('username', 'partner-' || v, 'password', md5('p' || s.i))) end)
  when 'credential' then jsonb_build_object(
    'id', 'cre-' || to_hex(256 + v), 'name', 'mobile-app-primary', 'desc', 'key for mobile-app (rotated quarterly)', 'consumer', 'mobile-app',
    'plugins', jsonb_build_object('key-auth', jsonb_build_object('key', md5('c' || s.i) || md5('d' || s.i))),
    'labels', jsonb_build_object('env', 'prod', 'owner', 'mobile-team'))
  when 'ssl' then jsonb_build_object(
    'id', 'ssl-' || to_hex(256 + v), 'type', 'server', 'snis', jsonb_build_array('api.example.com', '*.example.com'), 'status', 1,
    'cert', E'-----BEGIN CERTIFICATE-----\\n' || md5('a' || s.i) || md5('b' || s.i) || E'\\n' || md5('c' || s.i) || md5('d' || s.i)
      || E'\\n-----END CERTIFICATE-----',
    'key', E'-----BEGIN PRIVATE KEY-----\\n' || md5('e' || s.i) || md5('f' || s.i) || E'\\n-----END PRIVATE KEY-----',
    'labels', jsonb_build_object('env', 'prod'))
  when 'plugin_metadata' then jsonb_build_object('id', (array['http-logger','kafka-logger','loki-logger'])[1 + h.a % 3],
    'log_format', jsonb_build_object('host', '$host', '@timestamp', '$time_iso8601', 'client_ip', '$remote_addr',
      'route_id', '$route_id', 'latency', '$request_time', 'upstream', '$upstream_addr', 'status', '$status'))
  when 'global_rule' then jsonb_build_object('id', 'ip-restriction', 'plugins', jsonb_build_object(
    'ip-restriction', jsonb_build_object('whitelist', jsonb_build_array('10.0.0.0/8', '192.0.2.0/24', '2001:db8::/32'), 'message', 'Access denied'),
    'prometheus', jsonb_build_object('prefer_name', true),
    'real-ip', jsonb_build_object('source', 'http_x_forwarded_for', 'trusted_addresses', jsonb_build_array('10.0.0.0/8'))))
  when 'gateway_group' then jsonb_build_object('id', 'gg-' || to_hex(256 + v), 'name', 'prod-eu-west', 'description', 'prod-eu-west data plane',
    'type', 'api7_gateway', 'labels', jsonb_build_object('region', 'eu-west'), 'enforce_service_publishing', true)
  when 'secret' then jsonb_build_object('id', 'vault/prod-vault-' || v, 'uri', 'https://vault.example.internal:8200', 'prefix', 'kv/apisix',
    'token', 'hvs.' || md5('t' || s.i) || md5('u' || s.i))
  else jsonb_build_object('id', 'u-' || v, 'username', 'user-' || v, 'email', 'user-' || v || '@example.com',
    'roles', jsonb_build_array('developer', 'viewer'), 'state', 'active')
  end`;
}

/**
 * The small shape's gateway objects: the same resource types and secrets (key-auth keys, passwords, SSL keys, vault
 * tokens, an OIDC client secret), a few fields each, names and descriptions in Chinese.
 */
function smallBodyExpression(): string {
  return `case t.type
  when 'route' then jsonb_build_object('id', 'r-' || to_hex(4096 + v), 'name', '订单列表-' || v, 'desc', '查询订单 «' || (h.b % 90) || '»',
    'paths', jsonb_build_array('/api/v1/订单/' || (h.b % 90)), 'service_id', 'svc-' || to_hex(256 + h.b % 300),
    'plugins', case when h.c % 10 = 1 then jsonb_build_object('openid-connect', jsonb_build_object('client_id', 'gw', 'client_secret', left(md5('o' || s.i), 16)))
                    when h.a % 5 < 2 then jsonb_build_object('limit-count', jsonb_build_object('count', 1000, 'time_window', 60, 'key', 'remote_addr'))
                    else '{}'::jsonb end)
  when 'service' then jsonb_build_object('id', 'svc-' || to_hex(256 + v), 'name', (array['订单服务','支付网关','商品目录','库存','结算','用户中心'])[1 + h.a % 6],
    'hosts', jsonb_build_array('api.example.cn'), 'upstream', jsonb_build_object('type', 'roundrobin',
      'nodes', jsonb_build_array(jsonb_build_object('host', '10.10.' || (h.a % 40) || '.' || (h.b % 250), 'port', 8080, 'weight', 100))))
  when 'upstream' then jsonb_build_object('id', 'ups-' || to_hex(256 + v), 'name', '商品目录后端', 'type', 'least_conn',
    'nodes', jsonb_build_array(jsonb_build_object('host', '10.10.' || (h.a % 40) || '.' || (h.b % 250), 'port', 9000, 'weight', 100)))
  when 'consumer' then jsonb_build_object('username', '合作伙伴-' || v, 'desc', '客户端 «' || v || '»',
    'plugins', case when h.b % 4 < 3 then jsonb_build_object('key-auth', jsonb_build_object('key', left(md5('k' || s.i), 20)))
                    else jsonb_build_object('basic-auth', jsonb_build_object('username', 'p-' || v, 'password', left(md5('p' || s.i), 16))) end)
  when 'credential' then jsonb_build_object('id', 'cre-' || to_hex(256 + v), 'name', '移动应用主密钥',
    'plugins', jsonb_build_object('key-auth', jsonb_build_object('key', md5('c' || s.i))))
  when 'ssl' then jsonb_build_object('id', 'ssl-' || to_hex(256 + v), 'snis', jsonb_build_array('api.example.cn'),
    'cert', E'-----BEGIN CERTIFICATE-----\\n' || md5('a' || s.i) || E'\\n-----END CERTIFICATE-----', 'key', left(md5('e' || s.i), 24))
  when 'plugin_metadata' then jsonb_build_object('id', 'http-logger', 'log_format', jsonb_build_object('host', '$host', 'status', '$status'))
  when 'global_rule' then jsonb_build_object('id', 'ip-restriction', 'plugins', jsonb_build_object('ip-restriction',
    jsonb_build_object('whitelist', jsonb_build_array('10.0.0.0/8'), 'message', '拒绝访问')))
  when 'gateway_group' then jsonb_build_object('id', 'gg-' || to_hex(256 + v), 'name', '华东生产', 'labels', jsonb_build_object('region', '上海'))
  when 'secret' then jsonb_build_object('id', 'vault/生产-' || v, 'uri', 'https://vault.example.cn:8200', 'token', 'hvs.' || left(md5('t' || s.i), 20))
  else jsonb_build_object('id', 'u-' || v, 'username', '用户-' || v, 'roles', jsonb_build_array('开发者'))
  end`;
}

/** The small shape's resource names: the type's name in Chinese, then the id. */
const SMALL_TYPE_NAMES: Record<(typeof RESOURCE_TYPES)[number], string> = {
  route: '路由', service: '服务', upstream: '上游', consumer: '消费者', credential: '凭证', ssl: '证书', plugin_metadata: '插件元数据',
  global_rule: '全局规则', gateway_group: '网关组', secret: '密钥管理', user: '用户',
};

function resourceNameSql(shape: Shape): string {
  if (shape === 'default') return `e.type || ' ' || e.rid`;
  const cases = Object.entries(SMALL_TYPE_NAMES).map(([type, name]) => `when ${lit(type)} then ${lit(name)}`);
  return `(case e.type ${cases.join(' ')} end) || ' ' || e.rid`;
}

/** The operators as a table, joined by number: cheaper per row than subscripting an array literal. */
export function operatorsSql(schema: string, shape: Shape = 'default'): string {
  const values = operatorsOf(shape).map((o, index) => `(${index + 1}, ${lit(o.name)}, ${lit(o.ip)}::inet, ${lit(o.altIp)}::inet, ${lit(o.source)})`);
  return `
create unlogged table ${schema}.bench_operators (k int primary key, name text not null, ip inet not null, alt_ip inet not null, source text not null);
insert into ${schema}.bench_operators values ${values.join(', ')};
analyze ${schema}.bench_operators;`;
}

/**
 * Inserts entries `from`..`to` of `rows`: entry i is at anchor - 120 days × (rows - i) / rows, so ids follow time
 * and the newest entry is at the anchor (the seed time). The inner query computes each entry's choices once
 * (`offset 0` keeps the planner from inlining them into every place they are used).
 */
export function entriesSql(schema: string, rows: number, from: number, to: number, shape: Shape = 'default'): string {
  const common = OPERATORS.length - 1;
  return `
insert into ${schema}.audit_logs (id, created_at, operator, operation, resource_type, resource_id, resource_name, source_ip, source, before, after)
select e.i, m.anchor - make_interval(secs => 10368000.0 * (${rows} - e.i) / ${rows}),
  o.name, e.operation, e.type, e.rid, ${resourceNameSql(shape)}, case when e.b % 3 = 0 then o.alt_ip else o.ip end, o.source,
  case when e.operation in ('CREATE', 'LOGIN', 'LOGOUT') then null
       else b.doc || jsonb_build_object('update_time', 1750000000 + e.i / 2, 'revision', e.i % 97) end,
  case when e.operation in ('DELETE', 'LOGIN', 'LOGOUT') then null
       else b.doc || jsonb_build_object('update_time', 1750000000 + e.i, 'revision', e.i % 97 + 1) end
from (
  select i, h.a, h.b, o.k, op.name as operation, t.type,
    case t.type when 'route' then 'r-' || to_hex(4096 + h.a % 5000) when 'user' then 'u-' || o.k
                else left(t.type, 3) || '-' || to_hex(256 + h.b % 300) end as rid
  from generate_series(${from}, ${to}) as i
  cross join lateral (select (i::bigint * 2654435761) % 4294967296 as a, (i::bigint * 40503 + 12345) % 1000003 as b,
                             (i::bigint * 69069 + 1) % 999983 as c) as h
  cross join lateral (select case when h.c % ${RARE_EVERY} = 0 then ${OPERATORS.length}
                                  else 1 + floor(${common} * power((h.a % 100000) / 100000.0::float8, 2.2))::int end as k) as o
  cross join lateral (select case when x < 50 then 'UPDATE' when x < 64 then 'CREATE' when x < 72 then 'PATCH' when x < 80 then 'DELETE'
                                  when x < 87 then 'LOGIN' when x < 92 then 'LOGOUT' when x < 97 then 'PUBLISH' else 'ROLLBACK' end as name
                      from (select h.b % 100 as x) as bucket) as op
  cross join lateral (select case when op.name in ('LOGIN', 'LOGOUT') then 'user' when op.name in ('PUBLISH', 'ROLLBACK') then 'service'
    else (array['route','route','route','route','route','route','route','service','service','upstream','upstream','consumer','consumer',
                'credential','credential','ssl','plugin_metadata','global_rule','gateway_group','secret'])[1 + h.c % 20] end as type) as t
  offset 0
) as e
cross join ${schema}.bench_seed as m
join ${schema}.bench_operators as o on o.k = e.k
join ${schema}.bench_bodies as b on b.type = e.type and b.variant = (e.a / 7 % ${BODY_VARIANTS})::int`;
}
