/**
 * The rows behind `api7-audit --demo`: a deterministic simulation of a gateway control plane over the last 120
 * days. People log in to the dashboard and edit a few things; CI, ADC and Terraform change many things in quick
 * bursts. Resources live in a pool, so an UPDATE or DELETE follows the CREATE of the same id, and every `before`
 * is the previous `after`.
 */
import { editBody } from './mutations.js';
import { Random } from './random.js';
import { buildResource, type Body, type Catalog, type Resource, type ResourceType } from './resources.js';

export type DemoOperation = 'CREATE' | 'UPDATE' | 'PATCH' | 'DELETE' | 'LOGIN' | 'LOGOUT' | 'PUBLISH' | 'ROLLBACK';
export type DemoSource = 'dashboard' | 'api' | 'adc';

/** One audit row without id and created_at; `ageSeconds` is how long before "now" the change happened. */
export interface DemoEntry {
  operator: string;
  operation: DemoOperation;
  resource_type: ResourceType;
  resource_id: string;
  resource_name: string;
  source_ip: string;
  source: DemoSource;
  before: Body | null;
  after: Body | null;
  ageSeconds: number;
}

export interface DemoOptions {
  count?: number;
  seed?: number;
}

export const DEMO_WINDOW_SECONDS = 120 * 86_400;

type Weights<T> = readonly (readonly [T, number])[];

interface Actor {
  operator: string;
  human: boolean;
  /** Relative number of work sessions (bursts); burst sizes then skew the entry counts further. */
  weight: number;
  ips: readonly string[];
  sources: Weights<DemoSource>;
  types: Weights<ResourceType>;
  burst: readonly [number, number];
}

const DEVELOPER: Weights<ResourceType> = [['route', 40], ['service', 16], ['upstream', 8], ['consumer', 8],
  ['credential', 5], ['plugin_metadata', 2], ['global_rule', 2]];
const PLATFORM: Weights<ResourceType> = [['ssl', 5], ['upstream', 5], ['global_rule', 3], ['gateway_group', 2],
  ['secret', 2], ['plugin_metadata', 3], ['service', 4], ['route', 4]];
const human = (operator: string, weight: number, ips: readonly string[], types = DEVELOPER): Actor =>
  ({ operator, human: true, weight, ips, sources: [['dashboard', 1]], types, burst: [1, 5] });

const ACTORS: readonly Actor[] = [
  { operator: 'apikey:ci-deployer', human: false, weight: 24, ips: ['192.0.2.10', '192.0.2.11', '192.0.2.12'],
    sources: [['api', 1]], types: [['route', 6], ['service', 4], ['upstream', 1]], burst: [1, 6] },
  { operator: 'adc-sync', human: false, weight: 9, ips: ['10.0.40.2', '2001:db8:40::2'], sources: [['adc', 1]],
    types: [...DEVELOPER, ['ssl', 2]], burst: [2, 12] },
  human('alice', 18, ['10.0.12.34', '2001:db8:4a1:12::1f']),
  human('bob', 12, ['10.0.7.88', '198.51.100.23']),
  { ...human('carol.ops', 9, ['2001:db8:85a3::8a2e:370:7334', '10.0.3.15'], PLATFORM),
    sources: [['dashboard', 3], ['api', 1]] },
  { operator: 'terraform', human: false, weight: 5, ips: ['2001:db8:ffff::10'], sources: [['api', 1]],
    types: [['gateway_group', 2], ['ssl', 3], ['secret', 2], ['upstream', 3], ['consumer', 3], ['credential', 2]],
    burst: [1, 8] },
  human('dave@example.com', 6, ['192.0.2.44', '198.51.100.61']),
  human('erin.sre', 5, ['2001:db8:1::5', '10.0.9.200'], PLATFORM),
  { operator: 'apikey:backstage-sync', human: false, weight: 4, ips: ['10.0.41.7'], sources: [['api', 1]],
    types: [['consumer', 2], ['credential', 3]], burst: [1, 3] },
  human('admin', 2, ['10.0.0.5'], [['user', 4], ['gateway_group', 1], ['secret', 1], ['global_rule', 1]]),
  human('frank@example.com', 1.5, ['198.51.100.77']),
];
const INVITEES = ['grace', 'heidi@example.com', 'ivan.dev', 'judy', 'mallory.contractor', 'niaj@example.com'];

/** [minimum, initial, maximum] live resources per type: below the minimum the next change is a CREATE. */
const POOL: Record<ResourceType, readonly [number, number, number]> = {
  route: [18, 36, 70], service: [6, 9, 16], upstream: [4, 6, 14], ssl: [2, 4, 8], consumer: [5, 8, 12],
  credential: [4, 8, 20], plugin_metadata: [1, 2, 6], global_rule: [2, 3, 7], gateway_group: [2, 3, 6],
  secret: [1, 2, 4], user: [8, 8, 14],
};

type Draft = Omit<DemoEntry, 'ageSeconds'>;

/** The simulated control plane: live resources by type and the versions each service was published at. */
class World implements Catalog {
  private readonly pools = new Map<ResourceType, Resource[]>();
  readonly published = new Map<string, string[]>();

  live(type: ResourceType): Resource[] {
    let pool = this.pools.get(type);
    if (!pool) this.pools.set(type, (pool = []));
    return pool;
  }

  remove(resource: Resource): void {
    const pool = this.live(resource.type);
    pool.splice(pool.indexOf(resource), 1);
  }

  /** Resources a DELETE may take: not a service with routes, a consumer with credentials, or a demo operator. */
  deletable(type: ResourceType): Resource[] {
    const used = new Set<unknown>([
      ...this.live('route').map((r) => r.body.service_id),
      ...this.live('credential').map((r) => r.body.consumer),
      ...ACTORS.map((a) => a.operator),
    ]);
    return this.live(type).filter((r) => !used.has(r.id) && !used.has(r.name));
  }
}

function seedWorld(rng: Random): World {
  const world = new World();
  for (const actor of ACTORS) {
    if (actor.human) world.live('user').push(buildResource(rng, world, 'user', [actor.operator]));
  }
  const order: ResourceType[] = ['gateway_group', 'service', 'route', 'upstream', 'ssl', 'consumer', 'credential',
    'plugin_metadata', 'global_rule', 'secret'];
  for (const type of order) {
    for (let i = 0; i < POOL[type][1]; i++) world.live(type).push(buildResource(rng, world, type, INVITEES));
  }
  return world;
}

function draft(actor: Actor, source: DemoSource, ip: string, operation: DemoOperation, resource: Resource,
  before: Body | null, after: Body | null): Draft {
  return { operator: actor.operator, operation, resource_type: resource.type, resource_id: resource.id,
    resource_name: resource.name, source_ip: ip, source, before, after };
}

function nextVersion(versions: readonly string[]): string {
  const [major = 1, minor = 0, patch = -1] = (versions.at(-1) ?? '1.0.-1').split('.').map(Number);
  if (patch < 9) return `${major}.${minor}.${patch + 1}`;
  return minor < 9 ? `${major}.${minor + 1}.0` : `${major + 1}.0.0`;
}

/** Publishing a service version to a gateway group, or rolling it back to the previous one (API7 Enterprise). */
function release(world: World, rng: Random, service: Resource): [DemoOperation, Body | null, Body] {
  const group = rng.pick(world.live('gateway_group'));
  const versions = world.published.get(service.id) ?? [];
  world.published.set(service.id, versions);
  const target = { gateway_group_id: group.id, gateway_group: group.name };
  if (versions.length >= 2 && rng.chance(0.12)) {
    const from = versions.pop();
    return ['ROLLBACK', { ...target, version: from }, { ...target, version: versions.at(-1) }];
  }
  const before = versions.length > 0 ? { ...target, version: versions.at(-1) } : null;
  versions.push(nextVersion(versions));
  return ['PUBLISH', before, { ...target, version: versions.at(-1), service: service.body }];
}

function change(world: World, rng: Random, actor: Actor, source: DemoSource, ip: string): Draft {
  const type = rng.weighted(actor.types);
  const pool = world.live(type);
  const [min, , max] = POOL[type];
  if (type === 'service' && !actor.human && rng.chance(0.45)) {
    const service = rng.pick(pool);
    const [operation, before, after] = release(world, rng, service);
    return draft(actor, source, ip, operation, service, before, after);
  }
  const operation: DemoOperation = pool.length < min ? 'CREATE' : rng.weighted<DemoOperation>([
    ['UPDATE', 66], ['CREATE', pool.length < max ? 16 : 0], ['DELETE', 9], ['PATCH', source === 'api' ? 12 : 0],
  ]);
  const victims = operation === 'DELETE' ? world.deletable(type) : [];
  if (operation === 'CREATE') {
    const created = buildResource(rng, world, type, INVITEES);
    pool.push(created);
    return draft(actor, source, ip, 'CREATE', created, null, created.body);
  }
  if (operation === 'DELETE' && victims.length > 0) {
    const deleted = rng.pick(victims);
    world.remove(deleted);
    return draft(actor, source, ip, 'DELETE', deleted, deleted.body, null);
  }
  const resource = rng.pick(pool);
  const before = resource.body;
  resource.body = editBody(type, before, rng, operation === 'PATCH' ? 1 : rng.weighted([[1, 6], [2, 3], [3, 1]]));
  return draft(actor, source, ip, operation === 'PATCH' ? 'PATCH' : 'UPDATE', resource, before, resource.body);
}

/** One work session: a person's LOGIN, a few edits, maybe a LOGOUT; or a pipeline's run of changes. */
function session(world: World, rng: Random, actor: Actor): Draft[] {
  const source = rng.weighted(actor.sources);
  const ip = rng.pick(actor.ips);
  const drafts: Draft[] = [];
  const user = world.live('user').find((u) => u.name === actor.operator);
  const interactive = actor.human && source === 'dashboard' && user !== undefined;
  if (interactive && rng.chance(0.6)) drafts.push(draft(actor, source, ip, 'LOGIN', user, null, null));
  const edits = interactive && rng.chance(0.12) ? 0 : rng.int(...actor.burst);
  for (let i = 0; i < edits; i++) drafts.push(change(world, rng, actor, source, ip));
  if (interactive && rng.chance(drafts.length === 0 ? 0.9 : 0.35)) {
    drafts.push(draft(actor, source, ip, 'LOGOUT', user, null, null));
  }
  return drafts;
}

/**
 * Generates `count` demo entries, oldest first, for `seed`. Same options, same output. Entries may share body
 * objects (an UPDATE's `after` is the next UPDATE's `before`): treat them as read-only.
 */
export function generateDemoEntries({ count = 6000, seed = 7 }: DemoOptions = {}): DemoEntry[] {
  const rng = new Random(seed);
  const world = seedWorld(rng);
  const sessions: { actor: Actor; drafts: Draft[] }[] = [];
  let total = 0;
  while (total < count) {
    const actor = rng.weighted(ACTORS.map((a) => [a, a.weight] as const));
    const drafts = session(world, rng, actor).slice(0, count - total);
    if (drafts.length === 0) continue;
    sessions.push({ actor, drafts });
    total += drafts.length;
  }
  // Session start ages, oldest first; the power skews them towards the present (about a fifth in the last week).
  const starts = sessions
    .map(() => 600 + (DEMO_WINDOW_SECONDS - 3600) * rng.next() ** 1.7)
    .sort((a, b) => b - a);
  const entries: DemoEntry[] = [];
  sessions.forEach(({ actor, drafts }, i) => {
    const floor = starts[i + 1] ?? 30;
    let age = starts[i] ?? 0;
    drafts.forEach((d, j) => {
      if (j > 0) age -= actor.human ? rng.between(8, 300) : rng.between(0.2, 4);
      // Keep sessions from overlapping so that entry order, time order and the resource history agree.
      age = Math.max(age, floor + 0.01 * (drafts.length - j));
      entries.push({ ...d, ageSeconds: Math.round(age * 1000) / 1000 });
    });
  });
  return entries;
}
