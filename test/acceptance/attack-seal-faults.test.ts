import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCli } from '../support/cli.js';
import { databaseUrl, insertRows, isEmbedded } from '../support/database.js';
import { waitFor } from '../support/wait.js';
import { minuteRows, NOT_INTACT, sealFixture, sealWorld, type SealFixture } from './attack-seal-fixture.js';

let world: Awaited<ReturnType<typeof sealWorld>>;
const roles: string[] = [];
const clients: pg.Client[] = [];
beforeAll(async () => {
  world = await sealWorld('atk_seal_f');
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  await world?.close();
  // The roles' grants went with the schemas; the roles belong to the server, not to the dropped database.
  const admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  for (const role of roles) await admin.query(`drop role if exists ${role}`);
  await admin.end();
});

/** `rows` entries a millisecond apart an hour ago, about 500 bytes each: a seal of them takes a second or more. */
async function bigTable(f: SealFixture, rows: number): Promise<void> {
  await f.schema.query(`insert into ${f.table} (created_at, operator, operation, resource_type, after)
    select now() - interval '1 hour' + (i || ' ms')::interval, 'op', 'update', 'route', jsonb_build_object('pad', repeat('x', 400), 'i', i)
    from generate_series(1, ${rows}) i`);
}

/** A role of the test's own that may log in to the test database, as a URL. */
async function createRole(grants: string[]): Promise<{ name: string; url: string }> {
  const name = `atk_seal_${randomBytes(4).toString('hex')}`;
  roles.push(name);
  const admin = new pg.Client({ connectionString: world.database.url });
  await admin.connect();
  try {
    await admin.query(`create role ${name} login`);
    for (const grant of grants) await admin.query(grant.replaceAll('ROLE', name));
  } finally {
    await admin.end();
  }
  const url = new URL(world.database.url);
  url.username = name;
  url.password = '';
  return { name, url: url.toString() };
}

const storeFiles = async (store: string) => (await readdir(store)).sort();

describe.skipIf(isEmbedded())('attack seal: faults (built binary, real server)', () => {
  it('kill -9 mid-seal leaves no record; the rerun seals every entry once, and verify is intact', async () => {
    const f = await world.fixture('kill');
    await bigTable(f, 300_000);
    const running = startCli([...f.base, 'seal', '--key', world.key, '--store', f.store]);
    await waitFor(async () => running.exited() || (await storeFiles(f.store)).some((name) => name.endsWith('.tmp')), 20_000, 'the leaves file being written');
    running.child.kill('SIGKILL');
    await running.result;
    expect((await running.result).code, 'killed before it finished').toBe(128);
    expect((await storeFiles(f.store)).filter((name) => name.endsWith('.json'))).toEqual([]);
    await insertRows(f.schema, minuteRows(3).map((row) => ({ ...row, age: '0 seconds' })));
    const records = [await f.sealRecord('--settle', '0s')];
    // A second run after the rerun: nothing new, nothing written, no gap and no overlap between the ranges.
    const again = await f.seal('--settle', '0s');
    expect(again.stdout).toContain('nothing to seal');
    const total = records.reduce((sum, record) => sum + record.count, 0);
    expect(total).toBe(300_003);
    const { result, report } = await f.verifyJson();
    expect(result.code, result.stdout.slice(0, 2000)).toBe(0);
    expect(report.seals.map((seal) => seal.present)).toEqual([300_003]);
  }, 120_000);

  it('a connection lost mid-seal or mid-verify is one line and exit 1 (not 4); no record is left, the rerun seals all', async () => {
    const f = await world.fixture('lost');
    await bigTable(f, 300_000);
    const admin = new pg.Client({ connectionString: world.database.url });
    await admin.connect();
    clients.push(admin);
    const terminateCopy = async () => {
      const found = await admin.query(`select pg_terminate_backend(pid) as done from pg_stat_activity
        where datname = current_database() and application_name = 'api7-audit' and query ilike 'copy%'`);
      return found.rows.length > 0;
    };
    for (const command of ['seal', 'verify'] as const) {
      if (command === 'verify') await f.sealRecord();
      const argv = command === 'seal' ? ['seal', '--key', world.key, '--store', f.store] : ['verify', '--public-key', `${world.key}.pub`, '--store', f.store];
      const running = startCli([...f.base, ...argv]);
      await waitFor(async () => running.exited() || (await terminateCopy()), 20_000, `${command}'s COPY`);
      const result = await running.result;
      expect(result.code, `${command}: ${result.stderr}`).toBe(1);
      expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
      expect(result.stderr).toMatch(/^error: .*(connection|terminat)/i);
      if (command === 'seal') expect(await storeFiles(f.store)).toEqual([]);
    }
    const { result } = await f.verifyJson();
    expect(result.code).toBe(0);
  }, 120_000);

  it('seals run concurrently, round after round, with writes between: the ranges chain without a gap or an overlap', async () => {
    const f = await world.fixture('concurrent');
    let written = 0;
    for (let round = 0; round < 4; round += 1) {
      written += (await insertRows(f.schema, minuteRows(20).map((row) => ({ ...row, age: '0 seconds' })))).length;
      const results = await Promise.all([0, 1, 2].map(() => f.seal('--settle', '0s', '--json')));
      for (const result of results) {
        if (result.code !== 0) expect(result.stderr).toMatch(/another seal ran at the same time; run again\n$/);
      }
      expect(results.some((result) => result.code === 0)).toBe(true);
    }
    const { result, report } = await f.verifyJson();
    expect(result.code, result.stdout).toBe(0);
    expect(report.seals.reduce((sum, seal) => sum + seal.present, 0)).toBe(written);
    expect(report.seals.reduce((sum, seal) => sum + (seal.count ?? 0), 0)).toBe(written);
    expect(report.unsealed).toBe(0);
  }, 120_000);

  it('a role without SELECT on the table: one line naming the grant, exit 1, for seal and for verify', async () => {
    const f = await world.fixture('noselect');
    await insertRows(f.schema, minuteRows(3));
    await f.sealRecord();
    const role = await createRole([`grant usage on schema ${f.schema.name} to ROLE`]);
    const as = sealFixture(role.url, f.table, f.store, world.key, f.schema);
    for (const [command, result] of [['seal', await as.seal()], ['verify', await as.verify()]] as const) {
      expect(result.code, result.stderr).toBe(1);
      // seal may first warn that this role cannot see other sessions' transactions: the error is its last line.
      expect(result.stderr.replace(/^warning: .*\n/, '')).toBe(`error: permission denied for table audit_logs: ${command} only reads ${f.table}; its role needs SELECT on it (GRANT SELECT ON ${f.table} TO <role>)\n`);
    }
    expect((await storeFiles(f.store)).filter((name) => name.endsWith('.json'))).toEqual(['seal-00000001.json']);
  });

  it.skipIf(!existsSync('/sys/kernel'))('a store seal cannot write to (sysfs refuses even root): one line naming it, exit 1', async () => {
    const f = await world.fixture('readonly');
    await insertRows(f.schema, minuteRows(2));
    const result = await spawnCli([...f.base, 'seal', '--key', world.key, '--store', '/sys']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot write to the seal store '\/sys': (permission denied|EROFS)\n$/);
  });

  it('row security that hides entries from the role: seal and verify refuse in one line (a seal of what it sees would leave the rest unsealed)', async () => {
    const f = await world.fixture('rls');
    await insertRows(f.schema, minuteRows(4, (i) => ({ operator: i === 2 ? 'hidden' : 'seen' })));
    await f.sealRecord();
    const role = await createRole([`grant usage on schema ${f.schema.name} to ROLE`, `grant select on ${f.table} to ROLE`]);
    await f.schema.query(`alter table ${f.table} enable row level security`);
    await f.schema.query(`create policy only_seen on ${f.table} using (operator <> 'hidden')`);
    const as = sealFixture(role.url, f.table, f.store, world.key, f.schema);
    await insertRows(f.schema, minuteRows(2).map((row) => ({ ...row, age: '0 seconds' })));
    for (const [command, result] of [['seal', await as.seal('--settle', '0s')], ['verify', await as.verify()]] as const) {
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr.replace(/^warning: .*\n/, '')).toBe(`error: row security hides entries of ${f.table} from this role, and ${command} must read every one: run it as the table's owner or a role with BYPASSRLS\n`);
    }
    expect((await storeFiles(f.store)).filter((name) => name.endsWith('.json'))).toEqual(['seal-00000001.json']);
    // The owner (here a superuser) sees every entry: sealing and verifying go on as before.
    expect((await f.sealRecord('--settle', '0s')).count).toBe(2);
    expect((await f.verify()).code).toBe(0);
  });

  it('a late commit the seal could not see (role without pg_read_all_stats): the seal says so, and verify names it as a possible late commit', async () => {
    const f = await world.fixture('hidden');
    await insertRows(f.schema, minuteRows(3));
    const role = await createRole([`grant usage on schema ${f.schema.name} to ROLE`, `grant select on ${f.table} to ROLE`]);
    const as = sealFixture(role.url, f.table, f.store, world.key, f.schema);
    // The control plane (another role) writes an entry in a transaction that stays open across the seal.
    const writer = new pg.Client({ connectionString: world.database.url, application_name: 'control-plane' });
    await writer.connect();
    clients.push(writer);
    await writer.query('begin');
    const [late] = (await writer.query<{ id: string }>(`insert into ${f.table} (operator, operation) values ('late', 'update') returning id::text`)).rows;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sealed = await as.seal('--settle', '0s', '--json');
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stderr).toMatch(/^warning: role atk_seal_\w+ cannot see the transactions of \d+ other session\(s\).*GRANT pg_read_all_stats TO atk_seal_\w+\n$/);
    expect((JSON.parse(sealed.stdout) as { record: { late_commit_guard: string } }).record.late_commit_guard).toBe('settle');
    await writer.query('commit');
    const { result, report } = await as.verifyJson();
    expect(result.code).toBe(NOT_INTACT);
    expect(f.problemsOf(report)).toEqual([expect.objectContaining({ kind: 'inserted', id: late?.id, late_commit_guard: 'settle' })]);
    const text = await as.verify();
    expect(text.stdout).toMatch(/inserted: id \d+ \(.*\) into the sealed range: .*committed late by a transaction the seal could not see .*guard was settle/);
    // The same with the grant: the seal waits for the open transaction, and nothing is inserted behind it.
    const admin = new pg.Client({ connectionString: world.database.url });
    await admin.connect();
    await admin.query(`grant pg_read_all_stats to ${role.name}`).finally(() => admin.end());
    await writer.query('begin');
    await writer.query(`insert into ${f.table} (operator, operation) values ('late', 'update')`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const guarded = await as.seal('--settle', '0s', '--json');
    expect(guarded.stderr).toBe('');
    await writer.query('commit');
    const after = await as.verifyJson();
    expect(f.problemsOf(after.report).filter((problem) => problem.kind === 'inserted')).toHaveLength(1);
    expect(after.report.unsealed).toBe(1);
  });

  it('--new-key beside a .pub that exists: refused before writing the private key (exit 2, one line)', async () => {
    const path = join(world.dir, 'fresh.key');
    await writeFile(`${path}.pub`, 'someone else\'s public key\n');
    const result = await spawnCli(['seal', '--new-key', '--key', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`error: --key '${path}': its public key '${path}.pub' already exists; a new key is never written over another (move it away first)\n`);
    expect(existsSync(path)).toBe(false);
    expect(await readFile(`${path}.pub`, 'utf8')).toBe('someone else\'s public key\n');
  });

  it('exit codes: database unreachable 1 (one line, no password), bad input 2, tampered 4', async () => {
    const f = await world.fixture('codes');
    await insertRows(f.schema, minuteRows(2));
    await f.sealRecord();
    const down = 'postgres://auditor:s3cr3t-pw@127.0.0.1:1/nowhere';
    for (const argv of [['seal', '--key', world.key, '--store', f.store], ['verify', '--public-key', `${world.key}.pub`, '--store', f.store]]) {
      const result = await spawnCli(['--table', f.table, '--connect-timeout', '3s', ...argv], { env: { API7_AUDIT_DATABASE_URL: down } });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toContain('s3cr3t-pw');
      expect(result.stdout).toBe('');
    }
    const bad = [
      await f.seal('--settle', 'soon'),
      await spawnCli([...f.base, 'verify', '--store', f.store]),
      await spawnCli([...f.base, 'verify', '--public-key', join(f.store, 'seal-00000001.json'), '--store', f.store]),
    ];
    for (const result of bad) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    await f.schema.query(`update ${f.table} set operator = 'x'`);
    expect((await f.verify()).code).toBe(NOT_INTACT);
    expect((await stat(join(f.store, 'seal-00000001.json'))).isFile()).toBe(true);
  });

  it('machine output: -o json and --json print one object with a fixed set of keys, for seal and for verify', async () => {
    const f = await world.fixture('machine');
    await insertRows(f.schema, minuteRows(2));
    const sealed = await f.seal('-o', 'json');
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(Object.keys(JSON.parse(sealed.stdout) as object)).toEqual(['sealed', 'record']);
    expect(Object.keys((JSON.parse(sealed.stdout) as { record: object }).record).sort()).toEqual([
      'count', 'first', 'format', 'from', 'hash', 'key_id', 'last', 'late_commit_guard', 'leaves_file', 'leaves_sha256',
      'previous_hash', 'sealed_at', 'seq', 'signature', 'table', 'to',
    ]);
    const nothing = await f.seal('--output', 'json');
    expect(JSON.parse(nothing.stdout)).toMatchObject({ sealed: false, reason: 'no entries since the last seal' });
    const [long, short] = [await f.verify('--output', 'json'), await f.verify('--json')];
    expect(long.stdout).toBe(short.stdout);
    const report = JSON.parse(long.stdout) as Record<string, unknown> & { seals: object[] };
    expect(Object.keys(report)).toEqual(['intact', 'table', 'store', 'key_id', 'seals', 'prune_cutoff', 'problems', 'unsealed', 'oldest_unsealed']);
    expect(Object.keys(report.seals[0] as object)).toEqual(['seq', 'file', 'status', 'from', 'to', 'count', 'present', 'pruned', 'archived', 'problems']);
    const conflict = await f.verify('--json', '--output', 'text');
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toBe('error: --json conflicts with --output text\n');
  });
});
