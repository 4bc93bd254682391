#!/usr/bin/env python3
"""1-byte TCP ping-pong (TCP_RR) for the benchmark.

  server HOST PORT        answers each byte with a byte, one connection at a time
  client HOST PORT COUNT  prints the mean and 99th percentile round trip in microseconds
  crr HOST PORT COUNT     COUNT connections one after another, each one round trip (TCP_CRR); prints
                          the mean and 99th percentile of connect + round trip + close in microseconds
"""
import socket, sys, time


def server(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    while True:
        connection, _ = listener.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with connection:
            while byte := connection.recv(1):
                connection.sendall(byte)


def client(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_connection((host, port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(200):  # warm-up
            s.sendall(b"x"); s.recv(1)
        samples = []
        clock = time.perf_counter_ns
        for _ in range(count):
            start = clock()
            s.sendall(b"x")
            if not s.recv(1):
                raise SystemExit("connection closed")
            samples.append(clock() - start)
    samples.sort()
    mean = sum(samples) / len(samples) / 1000
    p99 = samples[int(len(samples) * 0.99)] / 1000
    print(f"{mean:.1f} {p99:.1f}")


def crr(host, port, count):
    samples = []
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"x")
            if not s.recv(1):
                raise SystemExit("connection closed")
        samples.append(clock() - start)
    samples.sort()
    print(f"{sum(samples) / len(samples) / 1000:.1f} {samples[int(len(samples) * 0.99)] / 1000:.1f}")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "crr":
        crr(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
