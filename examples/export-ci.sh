#!/usr/bin/env bash
# Ship new audit entries to Splunk every 10 minutes from CI or cron. The checkpoint file must survive between runs
# (a CI cache or a persistent volume); each entry is shipped once, and a failed run is simply retried next time.
# api7-audit must be on PATH (npm install -g ./api7-audit-<version>.tgz, from `npm pack` in a checkout), or set
# API7_AUDIT to the command to run.
set -euo pipefail

: "${API7_AUDIT_DATABASE_URL:?set it to the PostgreSQL URL of the control plane (a read-only role is enough)}"
: "${API7_AUDIT_HEC_TOKEN:?set it from your CI secret store}"
state_dir=${STATE_DIR:-/var/lib/api7-audit}
mkdir -p "$state_dir"

"${API7_AUDIT:-api7-audit}" export \
  --hec-url "${HEC_URL:-https://splunk.example.com:8088}" \
  --checkpoint "$state_dir/hec-checkpoint.json" \
  --gzip --json > "$state_dir/last-export.json"
