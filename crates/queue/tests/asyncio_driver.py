"""Runs operation sequences on asyncio's queues for the differential test (tests/asyncio.rs).

Reads one command a line from stdin and answers each with one line on stdout:
`RESULT len=N unfinished=M`, then ` ! FLAG,...` when the command ran into one of the crate's
deliberate differences from asyncio (from there on the test stops comparing that sequence).
The event loop runs only at `run`; tasks are created, cancelled and resolved at those points.

Commands: `new fifo|lifo|priority CAP`, `put_nowait X`, `get_nowait`, `put ID X`, `get ID`,
`join ID` (the last three create a task), `cancel ID`, `task_done`, `shutdown`,
`shutdown_immediate`, `run`.
"""

import asyncio
import sys

# The crate's deliberate differences, as the test names them.
GETTER_FAIRNESS = "getter-fairness"
PUTTER_ADMITTED = "putter-admitted"
TASK_DONE_LIMIT = "task-done-limit"


class Tracked:
    """Mixin that notes the tasks asyncio woke to be served, and the differences they cause."""

    def setup(self, driver):
        self.driver = driver
        # Tasks woken by a put (getters) or a get (putters) that have not resumed yet.
        self.served_getters = set()
        self.served_putters = set()

    def _wakeup_next(self, waiters):
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                task = next(t for t in self.driver.tasks.values() if t._fut_waiter is waiter)
                if waiters is self._getters:
                    self.served_getters.add(task)
                else:
                    self.served_putters.add(task)
                waiter.set_result(None)
                break

    def waiting_served(self, served):
        me = asyncio.current_task(self.driver.loop)
        return sum(1 for t in served if t is not me and not t.done())

    def check_putters(self, exempt):
        me = asyncio.current_task(self.driver.loop)
        if me in self.served_putters and exempt:
            return
        if self.waiting_served(self.served_putters) > 0:
            self.driver.flags.add(PUTTER_ADMITTED)

    def full(self):
        # A served putter resumes here (in `put`) or in its cancellation path.
        self.check_putters(exempt=True)
        self.served_putters.discard(asyncio.current_task(self.driver.loop))
        return super().full()

    def empty(self):
        self.check_putters(exempt=False)
        self.served_getters.discard(asyncio.current_task(self.driver.loop))
        return super().empty()

    def put_nowait(self, item):
        self.check_putters(exempt=True)
        return super().put_nowait(item)

    def get_nowait(self):
        self.check_putters(exempt=False)
        # A caller that was not served takes an item promised to a served getter.
        served = self.waiting_served(self.served_getters)
        if served > 0 and 0 < self.qsize() <= served:
            self.driver.flags.add(GETTER_FAIRNESS)
        return super().get_nowait()


class Fifo(Tracked, asyncio.Queue):
    pass


class Lifo(Tracked, asyncio.LifoQueue):
    pass


class Priority(Tracked, asyncio.PriorityQueue):
    pass


KINDS = {"fifo": Fifo, "lifo": Lifo, "priority": Priority}


async def settle():
    # Enough loop iterations for every chain of wake-ups these sequences can start.
    for _ in range(32):
        await asyncio.sleep(0)


class Driver:
    def __init__(self):
        self.loop = None

    def new(self, kind, cap):
        self.close()
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.queue = KINDS[kind](maxsize=cap)
        self.queue.setup(self)
        self.tasks = {}
        self.kinds = {}
        self.reported = set()
        self.taken = 0
        self.done = 0
        self.flags = set()
        return "new"

    def close(self):
        if self.loop is None:
            return
        for t in self.tasks.values():
            t.cancel()
        self.loop.run_until_complete(settle())
        self.loop.close()
        self.loop = None

    def spawn(self, ident, kind, coro):
        self.tasks[ident] = self.loop.create_task(coro)
        self.kinds[ident] = kind
        return "spawned"

    def outcome(self, ident):
        t = self.tasks[ident]
        if t.cancelled():
            return "cancelled"
        if isinstance(t.exception(), asyncio.QueueShutDown):
            return "shutdown"
        if t.exception() is not None:
            raise t.exception()
        kind = self.kinds[ident]
        if kind == "get":
            self.taken += 1
            return f"item {t.result()}"
        return "ok" if kind == "put" else "joined"

    def run(self):
        self.loop.run_until_complete(settle())
        finished = []
        for ident in sorted(self.tasks):
            if ident not in self.reported and self.tasks[ident].done():
                self.reported.add(ident)
                finished.append(f"{ident}:{self.outcome(ident)}")
        return " ".join(["run"] + finished)

    def step(self, words):
        q = self.queue
        op = words[0]
        if op == "run":
            return self.run()
        if op in ("put", "get", "join"):
            ident = int(words[1])
            if op == "put":
                return self.spawn(ident, op, q.put(int(words[2])))
            return self.spawn(ident, op, q.get() if op == "get" else q.join())
        # Any other operation observes or changes the queue from outside the loop.
        q.check_putters(exempt=False)
        if op == "put_nowait":
            try:
                q.put_nowait(int(words[1]))
                return "ok"
            except asyncio.QueueFull:
                return "full"
            except asyncio.QueueShutDown:
                return "shutdown"
        if op == "get_nowait":
            try:
                item = q.get_nowait()
                self.taken += 1
                return f"item {item}"
            except asyncio.QueueEmpty:
                return "empty"
            except asyncio.QueueShutDown:
                return "shutdown"
        if op == "cancel":
            return "true" if self.tasks[int(words[1])].cancel() else "false"
        if op == "task_done":
            if self.taken == self.done and q._unfinished_tasks > 0:
                self.flags.add(TASK_DONE_LIMIT)
            try:
                q.task_done()
                self.done += 1
                return "ok"
            except ValueError:
                return "error"
        if op == "shutdown":
            q.shutdown()
            return "ok"
        if op == "shutdown_immediate":
            q.shutdown(immediate=True)
            return "ok"
        raise ValueError(f"unknown command {op!r}")


def main():
    driver = Driver()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "new":
            print(driver.new(words[1], int(words[2])), flush=False)
            continue
        driver.flags = set()
        result = driver.step(words)
        q = driver.queue
        if words[0] not in ("run", "put", "get", "join"):
            q.check_putters(exempt=False)
        line = f"{result} len={q.qsize()} unfinished={q._unfinished_tasks}"
        if driver.flags:
            line += " ! " + ",".join(sorted(driver.flags))
        print(line)
    driver.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
