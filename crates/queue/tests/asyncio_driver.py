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
CANCEL_AT_ONCE = "cancel-at-once"


class Tracked:
    """Mixin that notes the tasks asyncio woke to be served, and the differences they cause."""

    def setup(self, driver):
        self.driver = driver
        # Tasks woken by a put (getters) or a get (putters) that have not resumed yet.
        self.served_getters = set()
        self.served_putters = set()
        # Getters the crate woke at a cancel and asyncio has not run: when they were woken.
        self.early = {}

    def _wakeup_next(self, waiters):
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                task = next(t for t in self.driver.tasks.values() if t._fut_waiter is waiter)
                self.driver.clock += 1
                self.driver.sched[task] = self.driver.clock
                if waiters is self._getters:
                    if task in self.early and any(not g.done() for g in waiters):
                        # The crate's put serves the getter after it instead.
                        self.driver.flags.add(CANCEL_AT_ONCE)
                    self.served_getters.add(task)
                else:
                    self.served_putters.add(task)
                waiter.set_result(None)
                break

    def waiting_served(self, served):
        me = asyncio.current_task(self.driver.loop)
        return sum(1 for t in served if t is not me and not t.done())

    def getters_served(self):
        # A cancelled getter's turn is gone in the crate already (passed on at once, see
        # check_cancel, or lapsed): it holds no item back.
        live = {t for t in self.served_getters if not t.cancelling()}
        return self.waiting_served(live | set(self.early))

    def check_cancel(self, task):
        # The crate passes a cancelled served getter's turn on at once, waking the next getter
        # in line now; asyncio wakes it later (when the cancelled task runs, or at the next put).
        if task in self.served_getters and not task.done() and not task.cancelling():
            waiting = [g for g in self._getters if not g.done()]
            if waiting:
                early = next(t for t in self.driver.tasks.values() if t._fut_waiter is waiting[0])
                self.early[early] = self.driver.clock

    def check_early(self):
        # A getter woken early in the crate runs before every task scheduled after its wake-up,
        # so such a task's take comes out differently. (From outside the loop, only the count
        # of items held back matters: see get_nowait.)
        me = asyncio.current_task(self.driver.loop)
        if me is None:
            return
        for t, woken in list(self.early.items()):
            if t.done():
                del self.early[t]
            elif t is not me and self.driver.sched.get(me, 0) > woken:
                self.driver.flags.add(CANCEL_AT_ONCE)

    def pending_putters(self):
        me = asyncio.current_task(self.driver.loop)
        return [t for t in self.served_putters if t is not me and not t.done()]

    def check_putters(self, taking=False):
        # The items of served putters that have not run are in the crate's queue already.
        me = asyncio.current_task(self.driver.loop)
        pending = self.pending_putters()
        if not pending:
            return
        if me is None:
            # Outside the loop the step's length shows them.
            self.driver.flags.add(PUTTER_ADMITTED)
            return
        if me in self.served_putters:
            # A served putter takes the place kept for it in both.
            return
        n = self.qsize()
        if taking:
            # The item taken differs if asyncio has none, or if one of theirs comes out first.
            items = [self.driver.put_items[t] for t in pending]
            differs = (
                n == 0
                or isinstance(self, asyncio.LifoQueue)
                or (isinstance(self, asyncio.PriorityQueue) and min(items) < min(self._queue))
            )
        elif me.cancelling():
            # A cancelled putter puts nothing.
            return
        else:
            # A newcomer's put finds room in asyncio only, or (but for the heap's order) its item
            # enters before theirs there and after them in the crate.
            differs = n < self._maxsize and (
                self._maxsize <= n + len(pending) or not isinstance(self, asyncio.PriorityQueue)
            )
        if differs:
            self.driver.flags.add(PUTTER_ADMITTED)

    def full(self):
        # A served putter resumes here (in `put`) or in its cancellation path.
        self.check_putters()
        self.served_putters.discard(asyncio.current_task(self.driver.loop))
        return super().full()

    def empty(self):
        self.check_putters(taking=True)
        me = asyncio.current_task(self.driver.loop)
        self.served_getters.discard(me)
        self.early.pop(me, None)
        return super().empty()

    def put_nowait(self, item):
        self.check_putters()
        return super().put_nowait(item)

    def get_nowait(self):
        self.check_putters(taking=True)
        if not super().empty():
            self.check_early()
        # A caller that was not served takes an item promised to a served getter.
        served = self.getters_served()
        if served > 0 and 0 < self.qsize() <= served:
            self.driver.flags.add(GETTER_FAIRNESS)
        return super().get_nowait()

    async def join(self):
        # asyncio's count lacks the items of served putters that have not run: a zero there
        # returns at once.
        if self._unfinished_tasks == 0 and self.pending_putters():
            self.driver.flags.add(PUTTER_ADMITTED)
        return await super().join()


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
        # When each task was last scheduled (spawned or woken by the queue), in steps.
        self.clock = 0
        self.sched = {}
        self.put_items = {}
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
        self.clock += 1
        self.sched[self.tasks[ident]] = self.clock
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
                self.spawn(ident, op, q.put(int(words[2])))
                self.put_items[self.tasks[ident]] = int(words[2])
                return "spawned"
            return self.spawn(ident, op, q.get() if op == "get" else q.join())
        # Any other operation observes or changes the queue from outside the loop.
        q.check_putters()
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
            task = self.tasks[int(words[1])]
            q.check_cancel(task)
            return "true" if task.cancel() else "false"
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
            q.check_putters()
        line = f"{result} len={q.qsize()} unfinished={q._unfinished_tasks}"
        if driver.flags:
            line += " ! " + ",".join(sorted(driver.flags))
        print(line)
    driver.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
