#!/usr/bin/env python3
"""The seed's asyncio head fetcher, as the peer fetch-headers is measured against.

Faithful to seed 003's `wget(host)` (open_connection, `GET / HTTP/1.0` with a `Host` header,
readline until the blank line, print `HOST header > LINE`, close) with seed 004's additions: a
Semaphore caps how many run at once and the results are counted as ok / not found / error.
Only the syntax is modern (`async def` instead of `@asyncio.coroutine`, which Python 3.11 removed).

    python3 benches/seed_fetch.py -c 256 -i targets.txt > /dev/null

Targets are `host` or `host:port`, one a line. The counts go to stderr.
"""

import argparse
import asyncio
import collections
import sys
import time


async def wget(host, port, semaphore, out):
    async with semaphore:
        reader, writer = await asyncio.open_connection(host, port)
        header = 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' % host
        writer.write(header.encode('utf-8'))
        await writer.drain()
        status = None
        while True:
            line = await reader.readline()
            if line == b'\r\n' or line == b'':
                break
            if status is None:
                status = line.split()[1] if len(line.split()) > 1 else b''
            out.write('%s header > %s\n' % (host, line.decode('utf-8').rstrip()))
        # Ignore the body, close the socket
        writer.close()
        return status


async def main(targets, concurrency):
    semaphore = asyncio.Semaphore(concurrency)
    counter = collections.Counter()
    out = sys.stdout
    todo = []
    for target in targets:
        host, _, port = target.partition(':')
        todo.append(wget(host, int(port or 80), semaphore, out))
    for future in asyncio.as_completed(todo):
        try:
            status = await future
        except Exception:
            counter['error'] += 1
        else:
            counter['not found' if status == b'404' else 'ok'] += 1
    return counter


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('targets', nargs='*')
    parser.add_argument('-c', '--concurrency', type=int, default=64)
    parser.add_argument('-i', '--input')
    args = parser.parse_args()
    targets = list(args.targets)
    if args.input:
        with open(args.input) as f:
            targets += [t.strip() for t in f if t.strip() and not t.startswith('#')]
    t0 = time.time()
    counts = asyncio.run(main(targets, args.concurrency))
    print('ok %d, not found %d, errors %d, %.2fs' % (
        counts['ok'], counts['not found'], counts['error'], time.time() - t0), file=sys.stderr)
    sys.exit(1 if counts['error'] else 0)
