#!/usr/bin/env python3
"""Run a command on a new pseudo-terminal, as a terminal session would.

    pty_run.py [--interrupt-on TEXT] [--timeout S] -- CMD ARGS...

Prints everything the command wrote to the terminal, then a last line "exit=N"
(N: its exit status, 128+N for death by signal N).  With --interrupt-on, types ^C
(the terminal's VINTR character, so the kernel sends SIGINT to the foreground process
group) once TEXT has appeared in the output: synchronised on output, never on time.
"""
import argparse
import os
import signal
import pty
import select
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--interrupt-on")
ap.add_argument("--timeout", type=float, default=30.0)
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

pid, fd = pty.fork()
if pid == 0:
    # Default dispositions, as a terminal's shell gives its jobs: a non-interactive shell
    # starts background jobs (bats run with &) with SIGINT and SIGQUIT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    os.execvp(cmd[0], cmd)

out = b""
interrupted = False
deadline = time.monotonic() + a.timeout
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        os.kill(pid, 9)
        print("pty_run: timed out", file=sys.stderr)
        break
    r, _, _ = select.select([fd], [], [], left)
    if not r:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if a.interrupt_on and not interrupted and a.interrupt_on.encode() in out:
        os.write(fd, b"\x03")
        interrupted = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
code = os.waitstatus_to_exitcode(status)
print(f"exit={code if code >= 0 else 128 - code}")
