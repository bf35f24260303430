"""Runs the scripts of scripts.txt on asyncio's SelectorEventLoop and prints their traces.

The differential test (tests/fdwatch/differential.rs) runs the same scripts on fdwatch's
EventLoop and compares the traces line by line. Usage: driver.py SCRIPTS_FILE. The output is,
for each case, a line "## NAME" followed by the case's trace.
"""

import asyncio
import errno
import os
import selectors
import socket
import sys
import time


def parse(path):
    """The cases of the scripts file: a list of (name, [line, ...])."""
    cases = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip() if not raw.startswith("##") else raw.strip()
            if line.startswith("## "):
                cases.append((line[3:].strip(), []))
            elif line and not line.startswith(("differs ", "expect ")):
                # "differs" and "expect" lines are for the differential test, not actions.
                cases[-1][1].append(line)
    return cases


def actions(text):
    """One callback body or top-level line: actions separated by ';'."""
    return [a.split() for a in text.split(";") if a.strip()]


class Script:
    def __init__(self, name):
        self.name = name
        self.loop = asyncio.SelectorEventLoop(selectors.EpollSelector())
        self.ends = {}
        # Fd numbers of closed ends, which scripts may still name.
        self.closed = {}
        self.defs = {}
        self.timers = {}
        self.trace = []
        # The origin of "at": deadlines are counted from the start of the script, so that two
        # timers may share one.
        self.start = self.loop.time()

    def callback(self, name):
        def run():
            self.trace.append(name)
            for action in self.defs[name]:
                self.act(action)

        return run

    def fd(self, end):
        """The fd number of an end, of a closed end, or a number given as is."""
        if end in self.ends:
            return self.ends[end].fileno()
        if end in self.closed:
            return self.closed[end]
        return int(end)

    def refused(self, what, err):
        """The trace line of a refused call: the errno's name, or the exception's class."""
        name = errno.errorcode.get(err.errno) if isinstance(err, OSError) else None
        self.trace.append(f"{what} refused {name or type(err).__name__}")

    def act(self, a):
        op, args = a[0], a[1:]
        loop = self.loop
        if op == "repeat":
            for i in range(int(args[0])):
                self.act([word.replace("%", str(i)) for word in args[1:]])
        elif op == "pair":
            x, y = socket.socketpair()
            x.setblocking(False)
            y.setblocking(False)
            self.ends[args[0] + ".a"] = x
            self.ends[args[0] + ".b"] = y
        elif op == "send":
            self.ends[args[0]].send(args[1].encode())
        elif op == "close":
            sock = self.ends.pop(args[0])
            self.closed[args[0]] = sock.fileno()
            sock.close()
        elif op == "file":
            # A regular file, which cannot be watched: this scripts file.
            self.ends[args[0]] = open(sys.argv[1], "rb")
        elif op == "reuse":
            # The first end's number now names the second end's socket (the old file is closed).
            os.dup2(self.ends[args[1]].fileno(), self.ends[args[0]].fileno())
        elif op == "read":
            try:
                data = self.ends[args[0]].recv(int(args[1]))
                self.trace.append(f"{args[0]} read {data.decode()}" if data else f"{args[0]} eof")
            except BlockingIOError:
                self.trace.append(f"{args[0]} again")
            except ConnectionError:
                self.trace.append(f"{args[0]} error")
        elif op == "fill":
            sock = self.ends[args[0]]
            try:
                while True:
                    sock.send(b"x" * 65536)
            except BlockingIOError:
                pass
        elif op == "drain":
            sock = self.ends[args[0]]
            try:
                while sock.recv(65536):
                    pass
            except BlockingIOError:
                pass
        elif op in ("reader", "writer"):
            add = loop.add_reader if op == "reader" else loop.add_writer
            try:
                add(self.fd(args[0]), self.callback(args[1]))
            except (OSError, ValueError) as err:
                self.refused(f"{op} {args[0]}", err)
        elif op in ("unreader", "unwriter"):
            remove = loop.remove_reader if op == "unreader" else loop.remove_writer
            try:
                found = remove(self.fd(args[0]))
                self.trace.append(f"{op} {args[0]} {str(found).lower()}")
            except (OSError, ValueError) as err:
                self.refused(f"{op} {args[0]}", err)
        elif op == "soon":
            loop.call_soon(self.callback(args[0]))
        elif op == "threadstop":
            loop.call_soon_threadsafe(loop.stop)
        elif op == "threadsafe":
            loop.call_soon_threadsafe(self.callback(args[0]))
        elif op == "later":
            delay = int(args[1]) / 1000
            self.timers[args[0]] = loop.call_later(delay, self.callback(args[2]))
        elif op == "at":
            when = self.start + int(args[1]) / 1000
            self.timers[args[0]] = loop.call_at(when, self.callback(args[2]))
        elif op == "cancel":
            said = self.timers[args[0]].cancel()
            if args[1:] == ["log"]:
                self.trace.append(f"cancel {args[0]} {str(said).lower()}")
        elif op == "stop":
            loop.stop()
        elif op == "step":
            # asyncio's rule for run_forever after stop: exactly one iteration.
            self.trace.append("-- step")
            loop.stop()
            loop.run_forever()
        elif op == "run":
            # Until a callback stops the loop (fdwatch's returns earlier only when idle).
            self.trace.append("-- run")
            loop.run_forever()
        elif op == "rerun":
            try:
                loop.run_forever()
                self.trace.append("run ran")
            except RuntimeError:
                self.trace.append("run refused")
        elif op == "sleep":
            time.sleep(int(args[0]) / 1000)
        else:
            raise SystemExit(f"{self.name}: unknown action {op!r}")

    def run(self, lines):
        for line in lines:
            if line.startswith("def "):
                name, body = line[4:].split("=", 1)
                self.defs[name.strip()] = actions(body)
            else:
                for action in actions(line):
                    self.act(action)
        self.loop.close()
        for sock in self.ends.values():
            sock.close()


def main():
    for name, lines in parse(sys.argv[1]):
        script = Script(name)
        script.run(lines)
        print(f"## {name}")
        for line in script.trace:
            print(line)


if __name__ == "__main__":
    main()
