"""Runs the scripts of scripts.txt on asyncio's SelectorEventLoop and prints their traces.

The differential test (tests/asyncio_differential.rs) runs the same scripts on fdwatch's
EventLoop and compares the traces line by line. Usage: driver.py SCRIPTS_FILE. The output is,
for each case, a line "## NAME" followed by the case's trace.
"""

import asyncio
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
            elif line:
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
        self.defs = {}
        self.timers = {}
        self.trace = []

    def callback(self, name):
        def run():
            self.trace.append(name)
            for action in self.defs[name]:
                self.act(action)

        return run

    def act(self, a):
        op, args = a[0], a[1:]
        loop = self.loop
        if op == "pair":
            x, y = socket.socketpair()
            x.setblocking(False)
            y.setblocking(False)
            self.ends[args[0] + ".a"] = x
            self.ends[args[0] + ".b"] = y
        elif op == "send":
            self.ends[args[0]].send(args[1].encode())
        elif op == "close":
            self.ends.pop(args[0]).close()
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
        elif op == "reader":
            loop.add_reader(self.ends[args[0]].fileno(), self.callback(args[1]))
        elif op == "writer":
            loop.add_writer(self.ends[args[0]].fileno(), self.callback(args[1]))
        elif op == "unreader":
            found = loop.remove_reader(self.ends[args[0]].fileno())
            self.trace.append(f"unreader {args[0]} {str(found).lower()}")
        elif op == "unwriter":
            found = loop.remove_writer(self.ends[args[0]].fileno())
            self.trace.append(f"unwriter {args[0]} {str(found).lower()}")
        elif op == "soon":
            loop.call_soon(self.callback(args[0]))
        elif op == "later":
            delay = int(args[1]) / 1000
            self.timers[args[0]] = loop.call_later(delay, self.callback(args[2]))
        elif op == "cancel":
            self.timers[args[0]].cancel()
        elif op == "stop":
            loop.stop()
        elif op == "step":
            # asyncio's rule for run_forever after stop: exactly one iteration.
            self.trace.append("-- step")
            loop.stop()
            loop.run_forever()
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
