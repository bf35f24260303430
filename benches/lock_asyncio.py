"""The lock benchmark's workload on Python's asyncio.Lock, for benches/lock.rs to compare with.

TASKS tasks each take the lock ITERATIONS times, holding it across one yield point
(`await asyncio.sleep(0)`), like `lock-demo --hold-ms 0 --quiet`. Prints one line:
`acquisitions N seconds S`.

    python3 benches/lock_asyncio.py [TASKS] [ITERATIONS]
"""

import asyncio
import sys
import time


async def worker(lock, counter, iterations):
    for _ in range(iterations):
        async with lock:
            # Hold the lock across one yield point, so the other tasks queue up.
            await asyncio.sleep(0)
            counter[0] += 1


async def main(tasks, iterations):
    lock = asyncio.Lock()
    counter = [0]
    start = time.perf_counter()
    await asyncio.gather(*(worker(lock, counter, iterations) for _ in range(tasks)))
    elapsed = time.perf_counter() - start
    assert counter[0] == tasks * iterations, counter[0]
    print(f"acquisitions {counter[0]} seconds {elapsed:.6f}")


if __name__ == "__main__":
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    asyncio.run(main(tasks, iterations))
