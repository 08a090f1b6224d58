"""Peak memory of a whole process tree: runs CMD, and every 100 ms sums the memory of the command's process, all its
descendants (followed through /proc/PID/task/*/children) and any process left in its session (a daemon that
re-parented itself to init, as Ray's can), recording the largest sums. Python only, no packages.

Two sums are kept: PSS (proportional set size, /proc/PID/smaps_rollup: each shared page divided among the processes
that map it, so shared libraries and Ray's shared-memory object store count once for the tree) and RSS (VmRSS of
/proc/PID/status, which counts a shared page in every process mapping it, so over-counts a tree). PSS is the figure
to read; RSS is given beside it. A process that exits between two samples is missed for its last <100 ms.

usage: tree_peak.py [--out FILE] [--interval SECONDS] -- CMD [ARG...]
Prints `peak_pss_mib X peak_rss_mib Y processes Z seconds S` on stderr and to --out (the peak process count and the
wall time of CMD), and exits with CMD's exit status (128 + N for a signal N).
"""

import argparse
import os
import signal
import subprocess
import sys
import time


def children(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    except OSError:
        pass
    return found


def session_members(sid):
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    members.append(int(entry))
            except OSError:
                pass
    return members


def tree(root, sid):
    seen = set()
    stack = [root] + session_members(sid)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack += children(pid)
    seen.discard(os.getpid())
    return seen


def memory_kib(pid):
    """(PSS, RSS) of one process in KiB; zeros once it has gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
    except (OSError, ValueError):
        pass
    return pss, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the result line here")
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")

    start = time.monotonic()
    # Its own session, so the processes it starts are found even after they leave the tree, and a signal to this
    # sampler (timeout's TERM) reaches them all.
    process = subprocess.Popen(command, start_new_session=True)

    def forward(signum, _frame):
        try:
            os.killpg(process.pid, signum)
        except OSError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)

    peak_pss = peak_rss = peak_count = 0
    while process.poll() is None:
        pids = tree(process.pid, process.pid)
        totals = [memory_kib(pid) for pid in pids]
        peak_pss = max(peak_pss, sum(pss for pss, _ in totals))
        peak_rss = max(peak_rss, sum(rss for _, rss in totals))
        peak_count = max(peak_count, len(pids))
        time.sleep(args.interval)
    seconds = time.monotonic() - start
    # Whatever of the session outlived the command (a daemon Ray left behind) is ended: the tree is measured whole.
    leftovers = [pid for pid in session_members(process.pid) if pid != os.getpid()]
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    line = (
        f"peak_pss_mib {peak_pss / 1024:.1f} peak_rss_mib {peak_rss / 1024:.1f} processes {peak_count} "
        f"seconds {seconds:.3f}"
    )
    print(line, file=sys.stderr)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(line + "\n")
    code = process.returncode
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
