"""Python asyncio's add_reader doing socketpair-reader's --pingpong, for benches/socketpair.rs.

Both ends of a socketpair are watched with loop.add_reader; each reader callback answers the byte
it reads, exactly like fdwatch::pingpong. Prints socketpair-reader's summary line, then the CPU time of the timed part:

    python3 benches/socketpair_asyncio.py 200000
    200000 round trips in 2.142s: 93353 round trips/s
    cpu 2.139117s
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
    start, cpu_start = time.perf_counter(), time.process_time()
    ping.send(b"!")
    loop.run_forever()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    loop.remove_reader(ping)
    loop.remove_reader(pong)
    loop.close()
    if left != 0:
        sys.exit(f"error: stopped with {left} round trips left")
    print(f"{rounds} round trips in {elapsed:.3f}s: {rounds / elapsed:.0f} round trips/s")
    print(f"cpu {cpu:.6f}s")


if __name__ == "__main__":
    main()
