#!/usr/bin/python3
# Runs a command on a pseudo-terminal (its controlling terminal, as a user at
# a login prompt would have) and answers its prompts: for each PROMPT=ANSWER
# argument before "--", waits until PROMPT appears, then types ANSWER and
# Enter. Prints everything the terminal showed (what the program wrote and
# what the terminal echoed) and exits with the command's exit code; 124 when a
# prompt or the end does not come within 20 seconds. For the tests of `fastid
# passwd`: a password that is echoed shows up in this transcript.
#   pty_answer.py 'Current password: =old' 'New password: =new' -- fastid passwd bob
import os
import pty
import select
import sys
import time


def main():
    split = sys.argv.index("--")
    answers = [a.split("=", 1) for a in sys.argv[1:split]]
    command = sys.argv[split + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    deadline = time.monotonic() + 20
    seen = b""

    def read_some():
        nonlocal seen
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the command closed the terminal
            return None
        if not chunk:
            return None
        seen += chunk
        return True

    at = 0
    for prompt, answer in answers:
        while seen.find(prompt.encode(), at) < 0:
            got = read_some()
            if not got:
                sys.stdout.write(seen.decode(errors="replace"))
                sys.stdout.write("\n[pty_answer: no prompt %r]\n" % prompt)
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return 124
        at = seen.find(prompt.encode(), at) + len(prompt)
        os.write(fd, answer.encode() + b"\n")
    while True:
        got = read_some()
        if got is None:
            break
        if got is False:
            sys.stdout.write(seen.decode(errors="replace") + "\n[pty_answer: no end]\n")
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return 124
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
