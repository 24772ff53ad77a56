import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { spawnInPty } from '../support/pty.js';
import { AUDIT_SHAPES } from '../support/audit-shapes.js';
import { createDefaultTable, createPartitionedTable, createTestDatabase, createTestSchema, insertRows, isEmbedded, type TestSchema } from '../support/database.js';

interface Check {
  group: string;
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  message: string;
  fix?: string;
  data?: Record<string, unknown>;
}

let db: { url: string; drop(): Promise<void> };
let dir: string;
const role = `t_doctor_${randomBytes(4).toString('hex')}`;
let healthy: TestSchema;
let bare: TestSchema;
let shaped: TestSchema;

// Each database state breaks one check; the rest of each report must stay as it was.
beforeAll(async () => {
  db = await createTestDatabase('doctor');
  dir = await mkdtemp(join(tmpdir(), 'api7-audit-doctor-'));
  healthy = await createTestSchema('dochealthy', db.url);
  await createDefaultTable(healthy);
  await insertRows(healthy, Array.from({ length: 300 }, (_, i) => ({ age: `${i} hours`, operator: 'alice', operation: 'create', resource_type: 'route', resource_id: `r${i}`, source_ip: '10.0.0.1', source: 'api', after: { i } })));
  await healthy.query(`analyze ${healthy.name}.audit_logs`);
  bare = await createTestSchema('docbare', db.url);
  await bare.query(`create table ${bare.name}.audit_logs (id bigserial primary key, created_at timestamptz not null, operator text, operation text,
    resource_type text, resource_id text, resource_name text, source_ip inet, source text, before jsonb, after jsonb)`);
  await insertRows(bare, [{ age: '1 day' }, { age: '90 days' }]);
  shaped = await createTestSchema('docshape', db.url);
  await AUDIT_SHAPES.find((shape) => shape.table === 'audit_trail')?.create(shaped, 200);
  if (!isEmbedded()) await healthy.query(`create role ${role} login`);
}, 60_000);
afterAll(async () => {
  for (const schema of [healthy, bare, shaped]) await schema?.drop();
  if (!isEmbedded()) {
    const cleanup = await createTestSchema('doccleanup', db.url);
    await cleanup.query(`drop owned by ${role}`).catch(() => undefined);
    await cleanup.query(`drop role if exists ${role}`);
    await cleanup.drop();
  }
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

async function doctor(args: string[], options: { url?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = await spawnCli(['--db', options.url ?? db.url, ...args, 'doctor', '--json'], { env: options.env });
  const report = JSON.parse(result.stdout || '{"checks":[]}') as { ok: boolean; checks: Check[] };
  const check = (name: string) => report.checks.find((c) => c.name === name) as Check;
  return { ...result, report, check };
}

describe.skipIf(isEmbedded())('doctor', () => {
  it('a healthy table: nothing fails, every index check is served, exit 0', async () => {
    const { code, report, check, stderr } = await doctor(['--table', `${healthy.name}.audit_logs`]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.checks.filter((c) => c.group === 'indexes').map((c) => [c.name, c.status])).toEqual(
      ['newest first', '--since', 'prune', 'export', '--operator', '--operation', '--resource', '--ip', '--source'].map((name) => [name, 'ok']),
    );
    expect(check('overdue').status).toBe('ok');
    expect(check('delete').status).toBe('ok');
    expect(check('clock').status).toBe('ok');
    expect(check('server').message).toMatch(/^PostgreSQL \d+.* round trip \d+\.\d ms$/);
    expect(check('size').message).toMatch(/~300 entries \(estimate\), \d+\.\d kB on disk; not partitioned/);
    expect(check('table').message).toBe(`${healthy.name}.audit_logs (--table)`);
  });

  it('the text report: one line per check with ✓ ! ✗ on a UTF-8 terminal only, [ok] [warn] [FAIL] in a pipe', async () => {
    const result = await spawnCli(['--db', db.url, '--table', `${bare.name}.audit_logs`, 'doctor'], { env: { LANG: 'C.UTF-8' } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^ {2}\[FAIL\] newest first: list sorts the whole table/m);
    expect(result.stdout).toMatch(/^ {6}fix: CREATE INDEX CONCURRENTLY ON t_docbare_\w+\.audit_logs \(created_at, id\);$/m);
    expect(result.stdout).toMatch(/^ {2}\[ok\] found: /m);
    expect(result.stderr).toBe('error: doctor: 4 checks failed\n');
  });

  it('on a UTF-8 terminal: ✓ ! ✗, coloured unless NO_COLOR', async () => {
    const args = ['--db', db.url, '--table', `${bare.name}.audit_logs`, 'doctor'];
    const plain = await spawnInPty(args, { env: { LANG: 'C.UTF-8', NO_COLOR: '1' }, timeoutMs: 20_000 });
    expect(plain.code).toBe(1);
    expect(plain.output).toMatch(/^ {2}✗ newest first: /m);
    expect(plain.output).toMatch(/^ {2}✓ found: /m);
    expect(plain.output).toMatch(/^ {2}! overdue: /m);
    expect(plain.output).not.toContain('\u001b[3');
    const coloured = await spawnInPty(args, { env: { LANG: 'C.UTF-8' }, timeoutMs: 20_000 });
    expect(coloured.output).toContain('\u001b[31m✗\u001b[39m newest first');
  });

  it('a missing (timestamp, id) index fails newest first, --since, prune and export, naming the index to add', async () => {
    const { code, report, check } = await doctor(['--table', `${bare.name}.audit_logs`]);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    for (const name of ['newest first', '--since', 'prune', 'export']) {
      expect(check(name)).toMatchObject({ status: 'fail', fix: `CREATE INDEX CONCURRENTLY ON ${bare.name}.audit_logs (created_at, id);` });
    }
    expect(check('--operation')).toMatchObject({ status: 'warn', fix: `CREATE INDEX CONCURRENTLY ON ${bare.name}.audit_logs ((lower(operation)), created_at, id);` });
    expect(check('--ip').fix).toBe(`CREATE INDEX CONCURRENTLY ON ${bare.name}.audit_logs USING gist (source_ip inet_ops);`);
  });

  it('overdue retention: the oldest entry, an estimate of what prune would delete; --cp-config: the control plane cleanup', async () => {
    const cp = join(dir, 'conf.yaml');
    await writeFile(cp, 'audit:\n  retention_days: 30\n');
    const { code, check } = await doctor(['--table', `${bare.name}.audit_logs`], {});
    expect(code).toBe(1);
    expect(check('overdue')).toMatchObject({ status: 'warn', fix: 'api7-audit prune --retention-days 60 --yes (nightly: examples/prune.crontab)' });
    expect(check('overdue').message).toMatch(/^oldest entry \S+ is older than the retention \(60 days, cutoff \S+\): ~\d+ entries overdue \(estimate\)$/);
    const withCp = await spawnCli(['--db', db.url, '--table', `${bare.name}.audit_logs`, 'doctor', '--json', '--cp-config', cp]);
    const checks = (JSON.parse(withCp.stdout) as { checks: Check[] }).checks;
    expect(checks.find((c) => c.name === 'control plane cleanup')).toMatchObject({ status: 'warn' });
    expect(checks.find((c) => c.name === 'retention')?.message).toBe("30 days (the control plane's conf.yaml (--cp-config))");
    const fresh = await doctor(['--table', `${healthy.name}.audit_logs`]);
    expect(fresh.check('control plane cleanup').status).toBe('skip');
  });

  it('a role without DELETE: prune cannot run, with the GRANT to fix it', async () => {
    await healthy.query(`grant usage on schema ${healthy.name} to ${role}; grant select on ${healthy.name}.audit_logs to ${role}`);
    const url = new URL(db.url);
    url.username = role;
    const { code, check } = await doctor(['--table', `${healthy.name}.audit_logs`], { url: url.toString() });
    expect(code).toBe(0);
    expect(check('select').status).toBe('ok');
    expect(check('delete')).toMatchObject({ status: 'warn', fix: `GRANT DELETE ON ${healthy.name}.audit_logs TO ${role};` });
  });

  it('a stale export checkpoint: how many entries and how long behind, and whether prune --only-exported can use it', async () => {
    const stale = await createTestSchema('docstale', db.url);
    try {
      await createDefaultTable(stale);
      await insertRows(stale, [{ age: '5 days' }, { age: '4 days' }]);
      const checkpoint = join(dir, 'hec.json');
      const exported = await spawnCli(['--db', db.url, '--table', `${stale.name}.audit_logs`, 'export', '--settle', '0', '--out', join(dir, 'out.ndjson'), '--checkpoint', checkpoint]);
      expect(exported.code, exported.stderr).toBe(0);
      await insertRows(stale, [{ age: '3 hours' }, { age: '2 hours' }, { age: '1 hour' }]);
      const { check } = await doctor(['--table', `${stale.name}.audit_logs`]);
      const result = await spawnCli(['--db', db.url, '--table', `${stale.name}.audit_logs`, 'doctor', '--json', '--checkpoint', checkpoint]);
      const checks = (JSON.parse(result.stdout) as { checks: Check[] }).checks;
      const found = checks.find((c) => c.name === 'checkpoint') as Check;
      expect(found).toMatchObject({ status: 'warn', data: { behind: 3 } });
      expect(found.message).toMatch(/is stale: 3 entries \(4 days\) behind the newest$/);
      expect(checks.find((c) => c.name === 'only-exported')?.status).toBe('ok');
      expect(check('checkpoint').status).toBe('skip');
      const missing = await spawnCli(['--db', db.url, '--table', `${stale.name}.audit_logs`, 'doctor', '--json', '--checkpoint', join(dir, 'nope.json')]);
      expect(missing.code).toBe(1);
    } finally {
      await stale.drop();
    }
  });

  it('a partitioned table: the key, the count and the oldest range; the owner drops partitions, another role deletes row by row', async () => {
    const parted = await createTestSchema('docparted', db.url);
    try {
      const table = await createPartitionedTable(parted, [
        ['p_old', `now() - interval '200 days'`, `now() - interval '100 days'`],
        ['p_new', `now() - interval '100 days'`, `now() + interval '1 day'`],
        ['p_default', 'default'],
      ]);
      await insertRows(parted, [{ age: '150 days' }, { age: '1 day' }]);
      const owner = await doctor(['--table', table]);
      expect(owner.check('size').message).toMatch(/; partitioned by RANGE \(created_at\), 3 partitions; oldest p_old FROM \('\d{4}-.*'\) TO \('\d{4}-.*'\)$/);
      expect(owner.check('owner')).toMatchObject({ status: 'ok', message: 'owner (postgres): prune drops whole partitions' });
      await parted.query(`grant usage on schema ${parted.name} to ${role}; grant select, delete on ${table} to ${role}`);
      const url = new URL(db.url);
      url.username = role;
      const other = await doctor(['--table', table], { url: url.toString() });
      expect(other.check('owner')).toMatchObject({ status: 'warn', fix: 'run prune as postgres (or a member of that role) to drop whole partitions; row by row is correct, only slower' });
      expect(other.check('delete').status).toBe('ok');
    } finally {
      await parted.query(`revoke all on schema ${parted.name} from ${role}`).catch(() => undefined);
      await parted.drop();
    }
  });

  it('an unreachable server is a failed check in the report (JSON for monitoring), exit 1; a bad flag is exit 2', async () => {
    const down = await spawnCli(['--db', 'postgres://postgres@127.0.0.1:1/nowhere', '--connect-timeout', '3s', 'doctor', '--json']);
    expect(down.code).toBe(1);
    const report = JSON.parse(down.stdout) as { ok: boolean; checks: Check[] };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'server')).toMatchObject({ status: 'fail' });
    expect(report.checks.find((c) => c.name === 'server')?.message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:1\/nowhere/);
    const bad = await spawnCli(['--db', db.url, 'doctor', '--retention-days', 'ten']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*--retention-days.*ten/);
    expect(bad.stdout).toBe('');
  });

  it("a host clock 10 minutes ahead of the database's fails the clock check (a child started with a shifted Date.now)", async () => {
    const preload = join(dir, 'shift-clock.cjs');
    await writeFile(preload, 'const real = Date.now; Date.now = () => real() + 600000;\n');
    const { code, check } = await doctor(['--table', `${healthy.name}.audit_logs`], { env: { NODE_OPTIONS: `--require ${preload}` } });
    expect(check('clock')).toMatchObject({ status: 'fail' });
    expect(check('clock').message).toMatch(/^database clock is 600(\.\d)? s behind this host's/);
    expect(code).toBe(1);
  });

  it('names where the connect timeout came from: the flag, the URL, PGCONNECT_TIMEOUT, the default', async () => {
    const table = ['--table', `${healthy.name}.audit_logs`];
    const source = async (args: string[], options: { url?: string; env?: NodeJS.ProcessEnv } = {}) => (await doctor([...table, ...args], options)).check('connect timeout').message;
    const url = new URL(db.url);
    url.searchParams.set('connect_timeout', '0');
    expect(await source(['--connect-timeout', '7s'], { env: { PGCONNECT_TIMEOUT: '9' } })).toBe('7 s (--connect-timeout)');
    expect(await source([], { url: url.toString(), env: { PGCONNECT_TIMEOUT: '9' } })).toBe('none (connect_timeout in the database URL)');
    expect(await source([], { env: { PGCONNECT_TIMEOUT: '9' } })).toBe('9 s (PGCONNECT_TIMEOUT)');
    expect(await source([])).toBe('10 s (default)');
  });

  it('TLS off on 127.0.0.1: ok, nothing crosses a network; the server offered none under sslmode=prefer; sslmode=disable says so', async () => {
    const prefer = await doctor(['--table', `${healthy.name}.audit_logs`]);
    expect(prefer.check('tls')).toMatchObject({ status: 'ok' });
    expect(prefer.check('tls').message).toMatch(/^TLS not in use \(.*\); the connection stays on this machine \(127\.0\.0\.1:\d+\/.*\): nothing crosses a network$/);
    const url = new URL(db.url);
    url.searchParams.set('sslmode', 'disable');
    const disabled = await doctor(['--table', `${healthy.name}.audit_logs`], { url: url.toString() });
    expect(disabled.check('tls').message).toMatch(/^TLS not in use \(sslmode=disable in the URL\)/);
  });

  it('a mapping with expressions: the filters on them say they cannot use an index, the timestamp one still can', async () => {
    const config = join(dir, 'shaped.yaml');
    await writeFile(config, `table: ${shaped.name}.audit_trail
columns:
  id: id
  timestamp: { column: created, time_zone: Europe/Berlin }
  operator: actor
  operation: operation
  resource_type: "lower(split_part(resource, ': ', 1))"
  resource_id: "split_part(resource, ': ', 2)"
  source_ip: ip
  before: details->'before'
  after: details->'after'
`, { mode: 0o600 });
    const { check } = await doctor(['--config', config]);
    expect(check('mapping').message).toMatch(/timestamp created \(local time in Europe\/Berlin\); expressions: resource_type, resource_id, before, after/);
    expect(check('--since').status).toBe('ok');
    expect(check('--resource')).toMatchObject({
      status: 'warn',
      fix: `CREATE INDEX CONCURRENTLY ON ${shaped.name}.audit_trail ((lower(split_part(resource, ': ', 1))), (split_part(resource, ': ', 2)), created);`,
    });
    expect(check('--resource').message).toContain('an expression: index the expression itself');
    expect(check('--ip').message).toMatch(/cannot use an index: the IP is text, matched by a cast per row/);
    expect(check('columns').message).toBe('9 mapped in the config file, 4 as expressions, the timestamp converted');
    // list orders a local time by the instant it stands for (an hour skipped in spring): only that expression's index
    // serves it, and doctor names that one, not the raw column's.
    const orderIndex = `CREATE INDEX CONCURRENTLY ON ${shaped.name}.audit_trail ((created at time zone 'Europe/Berlin'), id);`;
    expect(check('newest first')).toMatchObject({ status: 'fail', fix: orderIndex });
    await shaped.query(orderIndex.replace(' CONCURRENTLY', ''));
    expect((await doctor(['--config', config])).check('newest first')).toMatchObject({ status: 'ok' });
  });

  it('a bad expression is a failed mapping check naming it, not a crash', async () => {
    const config = join(dir, 'bad.yaml');
    const text = (await readFile(join(dir, 'shaped.yaml'), 'utf8').catch(() => '')).replace('operator: actor', 'operator: upper(nobody)');
    await writeFile(config, text || `table: ${shaped.name}.audit_trail\ncolumns: { operator: "upper(nobody)" }\n`, { mode: 0o600 });
    const { code, check } = await doctor(['--config', config]);
    expect(code).toBe(1);
    expect(check('mapping')).toMatchObject({ status: 'fail', fix: 'run api7-audit init, or fix table:/columns: in the config file' });
    expect(check('mapping').message).toContain('upper(nobody)');
  });
});
