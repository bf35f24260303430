"""Python asyncio's add_reader doing socketpair-reader's --pingpong, for benches/socketpair.rs.

Both ends of a socketpair are watched with loop.add_reader; each reader callback answers the byte
it reads, exactly like fdwatch::pingpong. Prints one line in socketpair-reader's format:

    python3 benches/socketpair_asyncio.py 200000
    200000 round trips in 4.321s: 46285 round trips/s
"""

import asyncio
import socket
import sys
import time


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    ping, pong = socket.socketpair()
    ping.setblocking(False)
    pong.setblocking(False)
    loop = asyncio.new_event_loop()
    left = rounds

    def on_pong() -> None:
        data = pong.recv(16)
        if not data:
            loop.stop()
            return
        pong.send(data)

    def on_ping() -> None:
        nonlocal left
        data = ping.recv(16)
        if not data:
            loop.stop()
            return
        left -= 1
        if left == 0:
            loop.stop()
        else:
            ping.send(data)

    loop.add_reader(pong, on_pong)
    loop.add_reader(ping, on_ping)
    start = time.perf_counter()
    ping.send(b"!")
    loop.run_forever()
    elapsed = time.perf_counter() - start
    loop.remove_reader(ping)
    loop.remove_reader(pong)
    loop.close()
    if left != 0:
        sys.exit(f"error: stopped with {left} round trips left")
    print(f"{rounds} round trips in {elapsed:.3f}s: {rounds / elapsed:.0f} round trips/s")


if __name__ == "__main__":
    main()
