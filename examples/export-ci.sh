#!/usr/bin/env bash
# Ship new audit entries to Splunk every 10 minutes from CI or cron. The checkpoint file must survive between runs
# (a CI cache or a persistent volume); each entry is shipped once, and a failed run is simply retried next time.
set -euo pipefail

: "${API7_AUDIT_DATABASE_URL:?set it to the control plane's PostgreSQL URL (read-only role is enough)}"
: "${API7_AUDIT_HEC_TOKEN:?set it from your CI secret store}"
state_dir=${STATE_DIR:-/var/lib/api7-audit}
mkdir -p "$state_dir"

npx api7-audit export \
  --hec-url "${HEC_URL:-https://splunk.example.com:8088}" \
  --checkpoint "$state_dir/hec-checkpoint.json" \
  --gzip --json > "$state_dir/last-export.json"
