"""A hand-made client of phasebox's keeper (helpers/common/keeper.hh), for keeper.bats:
it speaks the keeper's protocol directly, to ask for what phasebox-cgroup never would.

SOCKET "auto" is the keeper's socket of the invocation this process is in.

    keeper_client.py SOCKET other PID   ask for a leaf for process PID (any process)
    keeper_client.py SOCKET child       ask for a leaf for a child of this process, then
                                        ask the keeper to kill and remove it
    keeper_client.py SOCKET register PKG LIMITS...
                                        register limits (key=value) for package PKG

Prints each answer of the keeper on a line of its own ("O…" granted, "E<errno>:…"
refused), or "connect failed: …".
"""
import os
import signal
import socket
import sys


def ask(sock, msg, fd=None):
    fds = [fd] if fd is not None else []
    try:
        socket.send_fds(sock, [msg.encode()], fds)
    except OSError:
        pass  # refused on connection already: the answer is waiting
    try:
        answer = sock.recv(8192).decode()
    except ConnectionResetError:
        # refused at connect, before the keeper read the request: the reset is reported
        # once, then the answer comes
        answer = sock.recv(8192).decode()
    print(answer, flush=True)
    return answer


def held_child():
    """A child of this process, held until the write end returned is closed: (pid, w)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    return pid, w


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if path == "auto":
        with open("/proc/self/cgroup") as f:
            cg = [l.split("::", 1)[1].strip() for l in f if l.startswith("0::")][0]
        path = "/run/phasebox/%s.sock" % cg.split("/")[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(path)
    except OSError as e:
        print("connect failed:", e, flush=True)
        return
    if mode == "other":
        ask(sock, "Lcat/keeper-test:src_compile", os.pidfd_open(int(sys.argv[3])))
    elif mode == "child":
        pid, w = held_child()
        if ask(sock, "Lcat/keeper-test:src_compile", os.pidfd_open(pid)).startswith("O"):
            with open("/proc/%d/cgroup" % pid) as f:
                print("child " + [l for l in f if l.startswith("0::")][0].strip(), flush=True)
            ask(sock, "K")
        os.close(w)
        os.waitpid(pid, 0)
    elif mode == "register":
        ask(sock, "R" + sys.argv[3] + "\n" + "".join(a + "\n" for a in sys.argv[4:]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
