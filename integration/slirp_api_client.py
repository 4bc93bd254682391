#!/usr/bin/env python3
"""A client of slirp4netns's API socket (one JSON request per connection, the write side shut down after
it, one JSON reply), written from the API's description, for the slirp4netns drop-in tests.

  request SOCK JSON          sends JSON, prints the reply
  suite SOCK PORT            add/list/remove round trips (IPv4 and IPv6 entries), a duplicate port and an
                             unknown id (errors), then 20+ malformed requests: each must get an error reply
                             and leave the list as it was. PORT: the first host port to use (PORT..PORT+2).
                             Prints one line per step and "ok N" when all N steps held.
  stall SOCK SECONDS PREFIX  sends PREFIX without shutting down and waits; prints the seconds until the
                             server closed the connection, or "still open"
"""
import json, socket, sys, time


def request(path, data, shutdown=True, timeout=10):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return reply


def ask(path, document):
    return json.loads(request(path, json.dumps(document).encode() + b"\n"))


def suite(path, port):
    steps = []

    def step(name, ok, detail=""):
        steps.append(ok)
        print(f"{'ok' if ok else 'FAILED'} {name}{': ' + detail if detail else ''}", flush=True)

    def add(**arguments):
        return ask(path, {"execute": "add_hostfwd", "arguments": arguments})

    def entries():
        return ask(path, {"execute": "list_hostfwd"})["return"]["entries"]

    a = add(proto="tcp", host_addr="0.0.0.0", host_port=port, guest_addr="", guest_port=80)
    step("add_hostfwd tcp 0.0.0.0:%d -> :80 returns an id" % port, isinstance(a.get("return", {}).get("id"), int), str(a))
    b = add(proto="udp", host_addr="0.0.0.0", host_port=port, guest_port=53)
    step("add_hostfwd udp on the same port number returns another id", b.get("return", {}).get("id") not in (None, a["return"]["id"]), str(b))
    c = add(proto="tcp", host_addr="::", host_port=port + 1, guest_addr="fd00::100", guest_port=80)
    step("add_hostfwd with IPv6 host and guest addresses", "id" in c.get("return", {}), str(c))
    listed = entries()
    expected = [
        {"id": a["return"]["id"], "proto": "tcp", "host_addr": "0.0.0.0", "host_port": port, "guest_addr": "10.0.2.100", "guest_port": 80},
        {"id": b["return"]["id"], "proto": "udp", "host_addr": "0.0.0.0", "host_port": port, "guest_addr": "10.0.2.100", "guest_port": 53},
        {"id": c["return"]["id"], "proto": "tcp", "host_addr": "::", "host_port": port + 1, "guest_addr": "fd00::100", "guest_port": 80},
    ]
    step("list_hostfwd lists the three entries exactly", listed == expected, json.dumps(listed))
    dup = add(proto="tcp", host_addr="0.0.0.0", host_port=port, guest_port=81)
    step("a duplicate port is an error", "desc" in dup.get("error", {}), json.dumps(dup))
    removed = ask(path, {"execute": "remove_hostfwd", "arguments": {"id": b["return"]["id"]}})
    step("remove_hostfwd returns {}", removed == {"return": {}}, json.dumps(removed))
    unknown = ask(path, {"execute": "remove_hostfwd", "arguments": {"id": b["return"]["id"]}})
    step("removing it again (an unknown id) is an error", "desc" in unknown.get("error", {}), json.dumps(unknown))
    step("the list is the other two", entries() == [expected[0], expected[2]])

    before = entries()
    malformed = [
        b"", b"{", b"}", b"garbage", b"\x00\xff\xfe", b"[]", b"\"add_hostfwd\"", b"{}", b'{"execute": 1}',
        b'{"execute": "reboot"}', b'{"execute": "add_hostfwd"}', b'{"execute": "add_hostfwd", "arguments": []}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "sctp", "host_port": 1, "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": "1", "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 0, "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 70000, "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 1.5, "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 18999}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "300.0.0.1", "host_port": 18999, "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "0.0.0.0", "host_port": 18999, "guest_addr": "fd00::1", "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "224.0.0.1", "host_port": 18999, "guest_port": 1}}',
        b'{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 18999, "guest_port": 1,}}',
        b'{"execute": "add_hostfwd", "execute": "list_hostfwd"}',
        b'{"execute": "remove_hostfwd", "arguments": {"id": "1"}}',
        b'{"execute": "remove_hostfwd", "arguments": {}}',
        b'{"execute": "list_hostfwd"} trailing',
        b'{"execute": "\\ud800"}',
        b"[" * 100 + b"]" * 100,
        b'{"execute": "list_hostfwd", "pad": "' + b"x" * 5000 + b'"}',
    ]
    for data in malformed:
        try:
            reply = json.loads(request(path, data))
            answered = "desc" in reply.get("error", {})
        except (OSError, ValueError) as error:
            reply, answered = str(error), False
        unchanged = entries() == before
        step("malformed %r: an error reply, nothing changed" % data[:50], answered and unchanged, json.dumps(reply)[:120])
    print(f"ok {len(steps)}" if all(steps) else f"FAILED {steps.count(False)} of {len(steps)}")
    return all(steps)


def stall(path, seconds, prefix):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        start = time.time()
        s.sendall(prefix)
        s.settimeout(seconds)
        try:
            closed = s.recv(4096) == b""
        except socket.timeout:
            closed = False
        print(f"{time.time() - start:.2f}" if closed else "still open")
    return True


def main(argv):
    if argv[1] == "request":
        print(request(argv[2], argv[3].encode()).decode(errors="replace"))
        return True
    if argv[1] == "suite":
        return suite(argv[2], int(argv[3]))
    if argv[1] == "stall":
        return stall(argv[2], float(argv[3]), argv[4].encode())
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
