-- api7-audit: the default audit table and the indexes behind the CLI's filters.
--
-- Safe to re-run (IF NOT EXISTS everywhere). Valid for PostgreSQL 13+ and PGlite; plain SQL, no psql
-- meta-commands, so it can be applied with `psql -f`, a migration tool, or a driver's simple query.
-- Create the table in the schema of your choice by setting search_path first.

CREATE TABLE IF NOT EXISTS audit_logs (
  id            bigserial   PRIMARY KEY,
  created_at    timestamptz NOT NULL DEFAULT now(),
  operator      text,        -- user name, e-mail or API key / automation identity
  operation     text,        -- CREATE, UPDATE, DELETE, LOGIN, LOGOUT, PUBLISH, ...
  resource_type text,        -- route, service, upstream, ssl, consumer, ...
  resource_id   text,
  resource_name text,
  source_ip     inet,
  source        text,        -- dashboard, api, adc
  before        jsonb,       -- the resource before the change (NULL for CREATE, LOGIN, LOGOUT)
  after         jsonb        -- the resource after the change (NULL for DELETE, LOGIN, LOGOUT)
);

-- Time ranges (--since/--until), keyset pagination in both directions (newest first and oldest first, with
-- id as the tie-breaker for equal timestamps), and the batches of `prune` before its cutoff.
CREATE INDEX IF NOT EXISTS audit_logs_created_at_id_idx
  ON audit_logs (created_at, id);

-- --operator, alone or with a time range, in time order.
CREATE INDEX IF NOT EXISTS audit_logs_operator_created_at_idx
  ON audit_logs (operator, created_at, id);

-- --operation: case-insensitive, the query filters on `lower(operation) IN (...)`, so index the expression.
CREATE INDEX IF NOT EXISTS audit_logs_lower_operation_created_at_idx
  ON audit_logs (lower(operation), created_at, id);

-- --resource TYPE and --resource TYPE:ID (the history of one resource, as `list --resource route:ID --order asc`).
CREATE INDEX IF NOT EXISTS audit_logs_resource_created_at_idx
  ON audit_logs (resource_type, resource_id, created_at);

-- --ip with an address or a CIDR (`source_ip <<= '10.0.0.0/8'`): containment operators need GiST with inet_ops.
CREATE INDEX IF NOT EXISTS audit_logs_source_ip_idx
  ON audit_logs USING gist (source_ip inet_ops);

-- --source (dashboard, api, adc), in time order.
CREATE INDEX IF NOT EXISTS audit_logs_source_created_at_idx
  ON audit_logs (source, created_at);
