#!/usr/bin/env python3
"""Runs a command with a ready pipe and an exit pipe, as Podman runs slirp4netns, and reports on them.

  fd_launch.py STATE READY_FD EXIT_FD -- COMMAND...

The command gets the write end of a pipe as READY_FD and the read end of another as EXIT_FD. STATE gets
"ready TEXT MS" once the command wrote to READY_FD and closed it (TEXT is what it wrote, MS the time since
start), or "not-ready STATUS" if it exited first. Creating the file STATE.stop makes us close our end of the
exit pipe; STATE then gets "exited STATUS MS" with the time the command took to exit after that.
"""
import os, subprocess, sys, time


def main(argv):
    state, ready_fd, exit_fd = argv[1], int(argv[2]), int(argv[3])
    command = argv[argv.index("--") + 1:]
    import fcntl
    # Out of the way of the numbers the command expects (3 and 4 would be the pipes' own).
    pipes = []
    for fd in [*os.pipe(), *os.pipe()]:
        pipes.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100))
        os.close(fd)
    ready_r, ready_w, exit_r, exit_w = pipes
    os.dup2(ready_w, ready_fd)
    os.dup2(exit_r, exit_fd)
    start = time.monotonic()
    child = subprocess.Popen(command, pass_fds=(ready_fd, exit_fd))
    for fd in {ready_w, exit_r, ready_fd, exit_fd}:
        os.close(fd)
    data = b""
    while chunk := os.read(ready_r, 16):
        data += chunk
    with open(state, "w") as f:
        if child.poll() is not None and not data:
            f.write(f"not-ready {child.returncode}\n")
            return
        f.write(f"ready {data.decode(errors='replace')} {int((time.monotonic() - start) * 1000)}\n")
    while not os.path.exists(state + ".stop"):
        if child.poll() is not None:
            break
        time.sleep(0.01)
    stopped = time.monotonic()
    os.close(exit_w)
    try:
        status = child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        status = "killed"
    with open(state, "a") as f:
        f.write(f"exited {status} {int((time.monotonic() - stopped) * 1000)}\n")


if __name__ == "__main__":
    main(sys.argv)
