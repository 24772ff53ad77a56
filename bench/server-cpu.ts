import { readdir, readFile } from 'node:fs/promises';
import { withClient } from './db.js';

/**
 * CPU time of a PostgreSQL server on this machine, read from /proc: what its processes have used so far, the backends
 * that have exited included (the postmaster's cutime and cstime, once it has reaped them). The difference across a
 * run is what the run cost the server, as long as nothing else used that server meanwhile: a bench figure, not a
 * measurement to trust on a shared server.
 */
export class ServerCpu {
  private constructor(private readonly postmaster: number, private readonly tickSeconds: number) {}

  /** Undefined when the server is not a local process this user can read (a remote or embedded server, no /proc). */
  static async find(url: string): Promise<ServerCpu | undefined> {
    try {
      // Read while the connection is open: its backend's parent is the postmaster.
      const stat = await withClient(url, async (client) => {
        const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
        return backend === undefined ? undefined : readStat(backend);
      });
      if (stat === undefined) return undefined;
      // /proc counts in USER_HZ, 100 a second on every Linux architecture Node.js runs on.
      const meter = new ServerCpu(stat.ppid, 1 / 100);
      return (await meter.seconds()) > 0 ? meter : undefined;
    } catch {
      return undefined;
    }
  }

  /** CPU seconds used by the server's processes, living and reaped. */
  async seconds(): Promise<number> {
    const main = await readStat(this.postmaster);
    if (main === undefined) return NaN;
    let ticks = main.own + main.children;
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = await readStat(Number(name));
      if (stat?.ppid === this.postmaster) ticks += stat.own;
    }
    return ticks * this.tickSeconds;
  }
}

interface Stat {
  ppid: number;
  /** utime + stime, in clock ticks. */
  own: number;
  /** cutime + cstime: children waited for. */
  children: number;
}

/** /proc/PID/stat (proc(5)); the command name may hold spaces and parentheses, so fields are read after its last `)`. */
async function readStat(pid: number): Promise<Stat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17); fields[0] is field 3.
  const at = (field: number) => fields[field - 3] ?? NaN;
  return { ppid: at(4), own: at(14) + at(15), children: at(16) + at(17) };
}
