import { APISIX_PLUGIN_SECRET_PATHS } from './apisix-fields.js';

/**
 * Where a walker stands inside a plugin's configuration: `leaf` when the field reached is declared secret, and the
 * fields below it that lead to one. An array on the way keeps its node for each item (`instances[*].auth.header`).
 */
export interface PathNode {
  readonly leaf: boolean;
  readonly children: ReadonlyMap<string, PathNode>;
}

interface MutableNode {
  leaf: boolean;
  children: Map<string, MutableNode>;
}

/** Names as the walkers compare them (lower case, `-` as `_`); the generated data keeps APISIX's spelling. */
function normalize(name: string): string {
  return name.toLowerCase().replaceAll('-', '_');
}

function buildPluginsNode(paths: Readonly<Record<string, readonly string[]>>): PathNode {
  const plugins: MutableNode = { leaf: false, children: new Map() };
  for (const [plugin, fields] of Object.entries(paths)) {
    const root: MutableNode = { leaf: false, children: new Map() };
    plugins.children.set(normalize(plugin), root);
    for (const field of fields) {
      let node = root;
      for (const part of field.split('.').map(normalize)) {
        let child = node.children.get(part);
        if (!child) node.children.set(part, (child = { leaf: false, children: new Map() }));
        node = child;
      }
      node.leaf = true;
    }
  }
  return plugins;
}

/** The value of a `plugins` field: its keys are plugin names, each leading to that plugin's declared secret paths. */
export const PLUGINS_NODE: PathNode = buildPluginsNode(APISIX_PLUGIN_SECRET_PATHS);

/**
 * The node of a field named `name` (normalized) inside an object at `node`: any `plugins` field, at any depth
 * (routes, services, consumers, consumer groups, global rules, plugin configs, credentials), starts the plugin map.
 */
export function enterField(node: PathNode | undefined, name: string): PathNode | undefined {
  if (name === 'plugins') return PLUGINS_NODE;
  return node?.children.get(name);
}

/**
 * Declared leaf names that are secret only under their plugin (`key`, `headers`, `auth.header`...), given the names
 * that are secret everywhere, and the plugins that declare them: the fast pre-checks look for both.
 */
export function contextualPluginFields(everywhere: ReadonlySet<string>): { fields: string[]; plugins: string[] } {
  const fields = new Set<string>();
  const plugins = new Set<string>();
  for (const [plugin, paths] of Object.entries(APISIX_PLUGIN_SECRET_PATHS)) {
    for (const path of paths) {
      const leaf = normalize(path.split('.').at(-1) as string);
      if (everywhere.has(leaf)) continue;
      fields.add(leaf);
      plugins.add(normalize(plugin));
    }
  }
  return { fields: [...fields].sort(), plugins: [...plugins].sort() };
}

const listItemNodes = new Map<PathNode, PathNode>();

/**
 * The node of an item of `plugins` written as a list (`[{"name": "key-auth", "config": {"key": ...}}]`): its
 * `config` (or `conf`) is that plugin's configuration. Undefined for an item naming no plugin that declares a field.
 */
export function pluginListItemNode(item: unknown): PathNode | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
  const name = (item as Record<string, unknown>).name;
  const plugin = typeof name === 'string' ? PLUGINS_NODE.children.get(normalize(name.trim())) : undefined;
  if (plugin === undefined) return undefined;
  let node = listItemNodes.get(plugin);
  if (node === undefined) listItemNodes.set(plugin, (node = { leaf: false, children: new Map([['config', plugin], ['conf', plugin]]) }));
  return node;
}

let parentsOfFields: Map<string, Set<string>> | undefined;

/**
 * For each declared field name, the names its parent can have where it is declared: the part of the path before it,
 * or the plugin's name for a field of the plugin's own configuration (`key` -> key-auth, csrf, ...; `header` -> auth).
 * A field whose parent has none of these names is no declared field there.
 */
export function contextualParents(): ReadonlyMap<string, ReadonlySet<string>> {
  if (parentsOfFields) return parentsOfFields;
  const parents = new Map<string, Set<string>>();
  for (const [plugin, paths] of Object.entries(APISIX_PLUGIN_SECRET_PATHS)) {
    for (const path of paths) {
      const parts = [plugin, ...path.split('.')].map(normalize);
      const leaf = parts.at(-1) as string;
      let set = parents.get(leaf);
      if (!set) parents.set(leaf, (set = new Set()));
      set.add(parts.at(-2) as string);
    }
  }
  parentsOfFields = parents;
  return parents;
}
