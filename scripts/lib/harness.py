"""Shared pieces of the reliability scenarios (scripts/chaos, scripts/soak).

A throwaway PostgreSQL (like scripts/pg-temp.sh), the real conveyord and
conveyorctl as child processes, a small admin-socket client, the teams and
reps the scenarios route over, and a win driver that records wins through
`conveyor.record_win` at a fixed rate, retrying every transaction whose
commit it did not see until it does (record_win is idempotent per account),
so the set of committed wins is known exactly.

Python 3 with psycopg2 (Debian's python3-psycopg2; scripts/install-deps).
docs/reliability.md describes the scenarios.
"""

import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2
import psycopg2.errors

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class ScenarioFailure(Exception):
    """A check failed: the scenario exits 1 with this message."""


# MARK: - Binaries


def binaries(bin_dir, workdir):
    """conveyord and conveyorctl from --bin DIR, else from `swift build` (built when needed).

    They are copied into the run's directory, so a rebuild by someone else during
    a long run cannot change the binary a restart executes."""
    if not bin_dir:
        for product in ("conveyord", "conveyorctl"):
            log(f"swift build --product {product}")
            subprocess.run(["swift", "build", "--product", product], cwd=REPO, check=True,
                           stdout=sys.stderr)
        bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout.strip()
    found = {}
    for name in ("conveyord", "conveyorctl"):
        source = os.path.join(bin_dir, name)
        if not os.access(source, os.X_OK):
            raise ScenarioFailure(f"{name} not found in {bin_dir} (build it, or pass --bin DIR)")
        target = os.path.join(workdir, name)
        shutil.copy2(source, target)
        found[name] = target
    return found["conveyord"], found["conveyorctl"]


# MARK: - A throwaway PostgreSQL


class Database:
    """Connections to a conninfo (any libpq string: a multi-host one too)."""

    def __init__(self, conninfo):
        self.conninfo = conninfo

    def connect(self, application_name="conveyor-scenario"):
        conn = psycopg2.connect(self.conninfo, application_name=application_name)
        conn.autocommit = True
        return conn

    def connect_retrying(self, application_name="conveyor-scenario", timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.connect(application_name)
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres(Database):
    """initdb in a temporary folder, Unix socket only; as root the tools run as postgres.

    With `port`, it also listens on 127.0.0.1:port. With `standby_of` (a TempPostgres
    with a port), the data directory is a pg_basebackup -R of that server instead of
    an initdb: a streaming standby (`cluster_name` is `name`, which is what the
    primary's synchronous_standby_names can name)."""

    def __init__(self, workdir, options=(), name="pg", port=None, standby_of=None):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in p.split("/")[-2].split(".")])
        if not bins or not os.access(bins[-1] + "/initdb", os.X_OK):
            raise ScenarioFailure("PostgreSQL server not installed (scripts/install-deps)")
        self.bin = bins[-1]
        self.dir = os.path.join(workdir, name)
        self.port = port
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        os.chmod(workdir, 0o755)
        self.root = os.getuid() == 0
        if self.root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        where = ["-h", self.dir] + (["-p", str(port)] if port else [])
        if standby_of:
            self._tool("pg_basebackup", "-D", self.dir + "/data", "-R", "-X", "stream", "-h", "127.0.0.1",
                       "-p", str(standby_of.port), "-U", "postgres", "--no-sync", "--checkpoint=fast")
        else:
            self._tool("initdb", "-D", self.dir + "/data", "-U", "postgres", "-A", "trust", "--no-sync")
        listen = ["-c", "listen_addresses=127.0.0.1", "-c", f"port={port}"] if port else ["-c", "listen_addresses=''"]
        opts = ["-k", self.dir] + listen + ["-c", "max_connections=200", "-c", "fsync=off",
                                            "-c", "full_page_writes=off", "-c", f"cluster_name={name}"] + list(options)
        self._tool("pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/log", "-w",
                   "-o", " ".join(opts), "start")
        if not standby_of:
            self._tool("createdb", *where, "-U", "postgres", "conveyor")
        super().__init__(f"host={self.dir} {f'port={port} ' if port else ''}dbname=conveyor user=postgres")

    def _tool(self, name, *args):
        # Output goes to a file, never a pipe: a server that pg_ctl starts inherits
        # its stdout, and a pipe would then never reach end of file.
        argv = [self.bin + "/" + name, *args]
        if self.root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        with tempfile.TemporaryFile(mode="w+") as output:
            result = subprocess.run(argv, stdout=output, stderr=output, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                output.seek(0)
                raise ScenarioFailure(f"{name} failed: {output.read().strip()}")

    def restart(self, mode):
        """pg_ctl restart -m fast|immediate; returns once the server accepts connections."""
        self._tool("pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/log", "-m", mode, "-w", "-t", "120",
                   "restart")

    def kill_postmaster(self):
        """kill -9 of the postmaster alone (its backends notice and exit); returns its pid."""
        with open(self.dir + "/data/postmaster.pid") as f:
            pid = int(f.readline())
        os.kill(pid, signal.SIGKILL)
        return pid

    def promote(self):
        """pg_ctl promote (a standby); returns once it accepts writes."""
        self._tool("pg_ctl", "-D", self.dir + "/data", "-w", "-t", "120", "promote")

    def stop(self):
        try:
            self._tool("pg_ctl", "-D", self.dir + "/data", "-m", "immediate", "stop")
        except ScenarioFailure:
            pass


# MARK: - The daemon


class Daemon:
    """`conveyord run` as a child: its own socket, JSON log appended to a file."""

    def __init__(self, conveyord, conninfo, directory, name, environment=None):
        self.conveyord = conveyord
        self.name = name
        self.socket = os.path.join(directory, name + ".sock")
        self.logpath = os.path.join(directory, name + ".log")
        self.env = dict(os.environ)
        self.env.update({"CONVEYOR_DATABASE_URL": conninfo, "CONVEYOR_ADMIN_SOCKET": self.socket,
                         "CONVEYOR_LOG_FORMAT": "json", "CONVEYOR_LOG_LEVEL": "notice"})
        self.env.update(environment or {})
        self.process = None
        self.starts = 0

    @property
    def pid(self):
        return self.process.pid

    def start(self, ready_timeout=60):
        """Starts it and waits until its socket answers `ping`. A start that fails (the
        database restarting, say) is tried again until ready_timeout."""
        deadline = time.monotonic() + ready_timeout
        while True:
            with open(self.logpath, "ab") as logfile:
                self.process = subprocess.Popen([self.conveyord, "run"], env=self.env, stdout=logfile,
                                                stderr=logfile, stdin=subprocess.DEVNULL)
            self.starts += 1
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if admin(self.socket, "ping", timeout=2).get("pong"):
                        return
                except (OSError, AdminError, ValueError):
                    pass
                time.sleep(0.05)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
                raise ScenarioFailure(f"{self.name} not ready after {ready_timeout} s; log {self.logpath}")
            if time.monotonic() >= deadline:
                raise ScenarioFailure(f"{self.name} kept exiting at start (status {self.process.returncode}); "
                                      f"log {self.logpath}")
            time.sleep(0.2)

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout=30):
        """SIGTERM (drains, exits 0); returns the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise ScenarioFailure(f"{self.name} did not exit within {timeout} s of SIGTERM; log {self.logpath}")

    def proc_figures(self):
        """RSS (KiB), open file descriptors and threads of the running process, from /proc."""
        pid = self.process.pid
        status = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                status[key] = value.strip()
        return {"rss_kib": int(status["VmRSS"].split()[0]), "threads": int(status["Threads"]),
                "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def migrate(conveyord, conninfo):
    result = subprocess.run([conveyord, "migrate"], env=dict(os.environ, CONVEYOR_DATABASE_URL=conninfo,
                                                             CONVEYOR_LOG_FORMAT="json"),
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ScenarioFailure(f"conveyord migrate failed: {result.stderr.strip()}")


# MARK: - The admin socket


class AdminError(Exception):
    def __init__(self, error):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


def admin(path, cmd, args=None, timeout=10):
    """One request on a new connection: reads the greeting, sends the JSON line,
    returns the result or raises AdminError."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        f = s.makefile("rwb")
        f.readline()  # {"hello":"conveyord",...}
        f.write(json.dumps({"id": "1", "cmd": cmd, "args": args or {}}).encode() + b"\n")
        f.flush()
        line = f.readline()
        if not line:
            raise AdminError({"code": "closed", "message": "connection closed without an answer"})
        response = json.loads(line)
        if not response.get("ok"):
            raise AdminError(response.get("error", {}))
        return response.get("result")


def conveyorctl(ctl, socket_path, *words, timeout=120):
    """Runs conveyorctl --json …; returns the parsed result (raises with its stderr on failure)."""
    result = subprocess.run([ctl, "--socket", socket_path, "--json", *words], capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise ScenarioFailure(f"conveyorctl {' '.join(words)} exited {result.returncode}: "
                              f"{result.stderr.strip()}")
    return json.loads(result.stdout) if result.stdout.strip() else None


# MARK: - Teams and reps


def create_teams(conn, teams, managers, capacity, hunters=2):
    """Teams t0…, each with `hunters` closers (h0…) and `managers` account managers
    (m0…) of the given capacity, no skills; wins carry no needs, so every manager
    below capacity is eligible. Plain SQL, as an integration may write them."""
    names = [f"t{i}" for i in range(teams)]
    with conn.cursor() as cur:
        for name in names:
            cur.execute("insert into conveyor.teams (name, time_zone) values (%s, 'UTC') returning id", (name,))
            team_id = cur.fetchone()[0]
            cur.execute("""insert into conveyor.reps (team_id, ref, name, role, capacity)
                           select %s, 'h' || i, 'Hunter ' || i, 'closer', 0 from generate_series(0, %s - 1) i""",
                        (team_id, hunters))
            cur.execute("""insert into conveyor.reps (team_id, ref, name, role, capacity)
                           select %s, 'm' || i, 'Manager ' || i, 'account_manager', %s
                           from generate_series(0, %s - 1) i""", (team_id, capacity, managers))
    return names


# MARK: - Wins


def is_connection_error(error):
    """An error after which the transaction's fate is unknown or the session is gone:
    the driver reconnects and sends the same wins again."""
    return isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError,
                              psycopg2.errors.AdminShutdown, psycopg2.errors.CrashShutdown,
                              psycopg2.errors.CannotConnectNow))


class WinDriver:
    """Records wins at `rate` per second through `lanes` connections, each a thread
    of its own. Lane j records accounts w<j>-0, w<j>-1, … (spread round-robin over
    `teams`, hunters h0 and h1), every `tick` seconds the wins it owes in one
    statement, `select count(conveyor.record_win(team, account, hunter)) from
    unnest(…)`, which autocommit makes one transaction. A statement whose commit
    is not confirmed (the connection broke) is sent again, on a new connection,
    until it is: lane j's committed wins are then exactly w<j>-0 …
    w<j>-(committed[j]-1). Retries and reconnections are counted."""

    def __init__(self, pg, teams, rate, lanes=4, tick=0.01, hunters=2):
        self.pg, self.teams, self.tick, self.hunters = pg, teams, tick, hunters
        self.lanes = lanes
        self.lane_rate = rate / lanes
        self.committed_by_lane = [0] * lanes
        self.retries = 0
        self.reconnects = 0
        self.longest_outage = 0.0
        self.error = None
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._lane, args=(j,), name=f"wins-{j}", daemon=True)
                         for j in range(lanes)]

    @property
    def committed(self):
        return sum(self.committed_by_lane)

    def start(self):
        for t in self._threads:
            t.start()

    def is_alive(self):
        return any(t.is_alive() for t in self._threads)

    def stop(self):
        self._halt.set()
        for t in self._threads:
            t.join()
        if self.error:
            raise self.error

    def ref(self, lane, n):
        return f"w{lane}-{n}"

    def team(self, lane, n):
        return self.teams[(lane + n) % len(self.teams)]

    def index(self, ref):
        """A dense number for an account of this driver (n × lanes + lane), None for any other ref."""
        lane, sep, n = ref[1:].partition("-")
        if not ref.startswith("w") or not sep or not lane.isdigit() or not n.isdigit():
            return None
        return int(n) * self.lanes + int(lane)

    def is_committed(self, index):
        n, lane = divmod(index, self.lanes)
        return lane < self.lanes and n < self.committed_by_lane[lane]

    def _lane(self, lane):
        try:
            self._run(lane)
        except Exception as error:  # surfaced by stop()
            self.error = error
            self._halt.set()

    def _run(self, lane):
        conn = self.pg.connect_retrying("conveyor-wins")
        owed = 0.0
        last = time.monotonic()
        while not self._halt.is_set():
            now = time.monotonic()
            owed += (now - last) * self.lane_rate
            last = now
            # after an outage, catch up in statements of at most 0.1 s of wins
            count = min(int(owed), max(1, int(self.lane_rate / 10)))
            if count == 0:
                time.sleep(self.tick)
                continue
            first = self.committed_by_lane[lane]
            ns = range(first, first + count)
            teams = [self.team(lane, n) for n in ns]
            refs = [self.ref(lane, n) for n in ns]
            hunters = [f"h{n % self.hunters}" for n in ns]
            failed_since = None
            while True:
                try:
                    if conn is None:
                        conn = self.pg.connect_retrying("conveyor-wins", timeout=300)
                        with self._lock:
                            self.reconnects += 1
                    with conn.cursor() as cur:
                        cur.execute("""select count(conveyor.record_win(t, a, h))
                                       from unnest(%s::text[], %s::text[], %s::text[]) as w (t, a, h)""",
                                    (teams, refs, hunters))
                    break
                except psycopg2.errors.TransactionRollbackError:
                    # a deadlock or serialization failure: nothing was written; send again
                    with self._lock:
                        self.retries += 1
                except Exception as error:
                    if not is_connection_error(error):
                        raise
                    with self._lock:
                        self.retries += 1
                    failed_since = failed_since or time.monotonic()
                    try:
                        conn.close()
                    except Exception:
                        pass
                    conn = None
                    time.sleep(0.05)
            if failed_since:
                with self._lock:
                    self.longest_outage = max(self.longest_outage, time.monotonic() - failed_since)
            self.committed_by_lane[lane] = first + count
            owed -= count
            time.sleep(self.tick)
        conn.close()


def percentile(values, fraction):
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))]


def scratch_dir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


def seeded(seed):
    return random.Random(seed)
