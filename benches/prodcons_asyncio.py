"""The prodcons workload over Python's asyncio.Queue, for benches/queue.rs to compare with.

python3 benches/prodcons_asyncio.py --items 1000000 --producers 4 --consumers 4 --capacity 64

Producers put their share of 1..=N, then one None per consumer as the end mark (as in the seed);
consumers take items until they get None. Prints `<items> items in <secs>s, <rate> items/s`.
"""

import argparse
import asyncio
import time


async def produce(queue, items):
    for x in items:
        await queue.put(x)


async def consume(queue):
    taken = 0
    while True:
        item = await queue.get()
        if item is None:
            return taken
        taken += 1


async def main(args):
    queue = asyncio.Queue(maxsize=args.capacity)
    per, extra = divmod(args.items, args.producers)
    runs, start = [], 1
    for p in range(args.producers):
        count = per + (1 if p < extra else 0)
        runs.append(range(start, start + count))
        start += count
    began = time.perf_counter()
    consumers = [asyncio.create_task(consume(queue)) for _ in range(args.consumers)]
    await asyncio.gather(*(produce(queue, r) for r in runs))
    for _ in consumers:
        await queue.put(None)
    consumed = sum(await asyncio.gather(*consumers))
    secs = time.perf_counter() - began
    assert consumed == args.items, (consumed, args.items)
    print(f"{consumed} items in {secs:.3f}s, {int(consumed / secs)} items/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--capacity", type=int, default=64)
    asyncio.run(main(parser.parse_args()))
