import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A process the harness started: enough to find it again from another Node process. */
export interface ManagedProcess {
  name: string;
  pid: number;
  logPath: string;
}

/** A started process with its live handle (only in the Node process that spawned it). */
export interface SpawnedProcess extends ManagedProcess {
  child: ChildProcess;
  /** Set once the process has exited: its exit code, or the signal that ended it. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

const PROXY_VARIABLES = /^(https?|no|all|ftp)_proxy$/i;

/** The current environment without proxy variables: the API server must reach 127.0.0.1 directly. */
export function environmentWithoutProxies(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !PROXY_VARIABLES.test(key)),
  );
}

/** Starts `binary` in its own process group, with stdout and stderr appended to `logPath`. */
export function spawnLogged(
  name: string,
  binary: string,
  args: string[],
  logPath: string,
): SpawnedProcess {
  const log = openSync(logPath, 'a');
  try {
    // Own process group: a terminal's Ctrl-C reaches only us, so we choose the shutdown order.
    const child = spawn(binary, args, {
      stdio: ['ignore', log, log],
      env: environmentWithoutProxies(),
      detached: true,
    });
    // A failed spawn (e.g. ENOENT) also emits 'error', which would crash us without a listener.
    child.on('error', () => {});
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    // Unreferenced: a script that forgets stop() still exits, and the exit hook kills the process.
    child.unref();
    const spawned: SpawnedProcess = { name, pid: child.pid, logPath, child };
    child.once('exit', (code, signal) => (spawned.exit = { code, signal }));
    return spawned;
  } finally {
    closeSync(log);
  }
}

/** Whether `proc.pid` is alive and still runs the named binary (a recycled pid is not ours). */
export function isRunning(proc: Pick<ManagedProcess, 'name' | 'pid'>): boolean {
  const stat = readStat(proc.pid);
  // A zombie has exited; it only waits for its parent to collect it.
  if (!stat || stat.state === 'Z') return false;
  try {
    const argv0 = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return basename(argv0) === proc.name;
  } catch {
    return false;
  }
}

/**
 * Waits until exited processes have also left the process table, and returns those still there
 * (as zombies) after `timeoutMs`. A detached process is reaped by PID 1, which may take a while.
 */
export async function waitUntilReaped(
  procs: ManagedProcess[],
  timeoutMs = 10_000,
): Promise<ManagedProcess[]> {
  // The kernel keeps only the first 15 bytes of a command name.
  const present = () => procs.filter((p) => readStat(p.pid)?.comm === p.name.slice(0, 15));
  const deadline = Date.now() + timeoutMs;
  while (present().length > 0 && Date.now() < deadline) await sleep(50);
  return present();
}

function readStat(pid: number): { comm: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), state: stat.charAt(close + 2) };
  } catch {
    return undefined;
  }
}

/**
 * Stops the processes last-started first, each with SIGTERM and then SIGKILL after `graceMs`;
 * resolves once all are gone. Order matters: an API server whose etcd is gone hangs on shutdown.
 */
export async function stopProcesses(procs: ManagedProcess[], graceMs = 5_000): Promise<void> {
  for (const proc of [...procs].reverse()) {
    if (!isRunning(proc)) continue;
    signalAll([proc], 'SIGTERM');
    if (await exited(proc, graceMs)) continue;
    signalAll([proc], 'SIGKILL');
    if (!(await exited(proc, 5_000)))
      throw new Error(`${proc.name} (pid ${proc.pid}) still running after SIGKILL`);
  }
}

async function exited(proc: ManagedProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(proc)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Sends `signal` to each process that is still ours, ignoring those that are already gone. */
export function signalAll(
  procs: Pick<ManagedProcess, 'name' | 'pid'>[],
  signal: NodeJS.Signals,
): void {
  for (const proc of procs.filter(isRunning)) {
    try {
      process.kill(proc.pid, signal);
    } catch {
      // Exited between the check and the signal: nothing left to stop.
    }
  }
}

/** The last `lines` lines of a log file, or a note that it cannot be read. */
export function tailLog(logPath: string, lines = 25): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(no log at ${logPath}: ${(err as Error).message})`;
  }
}

/** What the watchdog does after killing the pids: run a clean-up command, then remove a directory. */
export interface ReaperActions {
  removeDir?: string;
  cleanupCommand?: string[];
}

/**
 * Starts a watchdog that, once `parentPid` is gone without a clean stop (e.g. SIGKILL), kills the
 * pids listed in `pidsFile`, runs `cleanupCommand` and removes `removeDir` (if given). Returns it
 * so a clean stop can end it.
 */
export function startReaper(
  parentPid: number,
  pidsFile: string,
  actions: ReaperActions = {},
): ChildProcess {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
    'pids=$(cat "$2" 2>/dev/null)',
    'if [ -n "$pids" ]; then kill -TERM $pids 2>/dev/null; sleep 3; kill -KILL $pids 2>/dev/null; fi',
    'dir=$3; shift 3',
    '[ "$#" -gt 0 ] && "$@"',
    '[ -n "$dir" ] && rm -rf "$dir"',
    'exit 0',
  ].join('\n');
  const reaper = spawn(
    'bash',
    [
      '-c',
      script,
      'reaper',
      String(parentPid),
      pidsFile,
      actions.removeDir ?? '',
      ...(actions.cleanupCommand ?? []),
    ],
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  reaper.unref();
  return reaper;
}
