#!/usr/bin/env python3
"""A pesto protocol (version 2) client of its own, written from the protocol description rather than from
our Swift encoder, for the control-socket tests. Prints JSON or one line per step.

  greeting PATH                      the hello and tables as JSON, fields decoded byte by byte
  send PATH JSON                     reads the greeting, sends the tables JSON describes, closes;
                                     JSON: [{"pif": 1, "rules": [{"proto": 6, "first": 80, ...}]}]
  malformed PATH                     20+ malformed updates, one connection each, the tables read back after
                                     each; prints "rejected NAME" or "CHANGED NAME", then "ok N" if all
                                     were rejected
  atomic PATH PID HOST PORT JSON     with connection A open through HOST:PORT, stops PID (SIGSTOP), sends the
                                     update JSON, connects B to HOST:PORT (it waits in the listener's queue),
                                     resumes PID; prints JSON: whether A and B still echo
  silent PATH SECONDS [PREFIX_HEX]   reads the greeting, sends PREFIX (default nothing) and stays silent;
                                     prints the seconds until the server closed the connection
Rules in JSON: proto, first, last (default first), to (default first), flags (default 1 without addr),
addr, taddr (default "::"), ifname (default "").
"""
import ipaddress, json, os, signal, socket, struct, sys, time

MAGIC = b"basil:s\0"
RULE_SIZE = 56


def address_bytes(text):
    address = ipaddress.ip_address(text)
    if address.version == 4:
        return b"\0" * 10 + b"\xff\xff" + address.packed
    return address.packed


def address_text(raw):
    if raw[:10] == b"\0" * 10 and raw[10:12] == b"\xff\xff":
        return str(ipaddress.IPv4Address(raw[12:]))
    return str(ipaddress.IPv6Address(raw))


def encode_rule(rule):
    addr = rule.get("addr")
    flags = rule.get("flags", 1 if addr is None else 0)
    ifname = rule.get("ifname", "").encode()
    first = rule["first"]
    return (address_bytes(addr or "::") + address_bytes(rule.get("taddr", "::")) + ifname.ljust(16, b"\0")[:16]
            + struct.pack("!HHHBB", first, rule.get("last", first), rule.get("to", first), rule["proto"], flags))


def encode_update(tables):
    data = b""
    for table in tables:
        data += struct.pack("!BI", table["pif"], len(table["rules"]))
        data += b"".join(encode_rule(r) for r in table["rules"])
    return data + b"\0"


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_exactly(s, count, buffer):
    while len(buffer[0]) < count:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed after {len(buffer[0])} bytes, {count} expected")
        buffer[0] += chunk
    data, buffer[0] = buffer[0][:count], buffer[0][count:]
    return data


def read_greeting(s):
    buffer = [b""]
    magic, version, name_size, ifnamsiz = struct.unpack("!8sIII", read_exactly(s, 20, buffer))
    result = {"hello": {"magic": magic.hex(), "version": version, "pif_name_size": name_size, "ifnamsiz": ifnamsiz},
              "tables": []}
    while True:
        pif = read_exactly(s, 1, buffer)[0]
        if pif == 0:
            break
        info = read_exactly(s, name_size + 8, buffer)
        name = info[:name_size]
        caps, count = struct.unpack("!II", info[name_size:])
        rules = []
        for _ in range(count):
            raw = read_exactly(s, RULE_SIZE, buffer)
            first, last, to, proto, flags = struct.unpack("!HHHBB", raw[48:56])
            rules.append({"addr": address_text(raw[0:16]), "taddr": address_text(raw[16:32]),
                          "ifname": raw[32:48].split(b"\0")[0].decode(errors="replace"),
                          "ifname_nul": b"\0" in raw[32:48], "first": first, "last": last, "to": to,
                          "proto": proto, "flags": flags, "hex": raw.hex()})
        result["tables"].append({"pif": pif, "name": name.split(b"\0")[0].decode(errors="replace"),
                                 "name_nul": b"\0" in name, "caps": caps, "count": count, "rules": rules})
    result["trailing"] = len(buffer[0])
    return result


def greeting(path):
    with connect(path) as s:
        return read_greeting(s)


def tables_of(path):
    return [(t["pif"], [r["hex"] for r in t["rules"]]) for t in greeting(path)["tables"]]


def send_raw(path, data):
    with connect(path) as s:
        read_greeting(s)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def malformed(path):
    before = tables_of(path)
    host = {"pif": 1, "rules": [{"proto": 6, "first": 18500, "to": 80}, {"proto": 17, "first": 18501}]}
    valid = encode_update([host])
    cases = [(f"truncated at byte {cut} of {len(valid)}", valid[:cut]) for cut in range(1, len(valid))]
    rule = encode_rule({"proto": 6, "first": 18502})
    cases += [
        ("count 256", struct.pack("!BI", 1, 256) + rule * 256 + b"\0"),
        ("count 4294967295", struct.pack("!BI", 1, 0xFFFFFFFF) + rule + b"\0"),
        ("pif 9", struct.pack("!BI", 9, 1) + rule + b"\0"),
        ("pif 2 (TAP: not a table here)", struct.pack("!BI", 2, 1) + rule + b"\0"),
        ("pif given twice", struct.pack("!BI", 1, 1) + rule + struct.pack("!BI", 1, 0) + b"\0"),
        ("ifname without NUL", struct.pack("!BI", 1, 1) + rule[:32] + b"e" * 16 + rule[48:] + b"\0"),
        ("proto 1", struct.pack("!BI", 1, 1) + rule[:54] + b"\x01" + rule[55:] + b"\0"),
        ("unknown flag 0x80", struct.pack("!BI", 1, 1) + rule[:55] + b"\x81" + b"\0"),
        ("first > last", struct.pack("!BI", 1, 1) + rule[:48] + struct.pack("!HHH", 900, 800, 900) + rule[54:] + b"\0"),
        ("port 0", struct.pack("!BI", 1, 1) + rule[:48] + struct.pack("!HHH", 0, 0, 0) + rule[54:] + b"\0"),
        ("target ports past 65535", struct.pack("!BI", 1, 1) + rule[:48] + struct.pack("!HHH", 100, 200, 65500) + rule[54:] + b"\0"),
        ("overlapping rules", encode_update([{"pif": 1, "rules": [{"proto": 6, "first": 18600, "last": 18610},
                                                                  {"proto": 6, "first": 18610}]}])),
        ("dual-stack flag with an address", encode_update([{"pif": 1, "rules": [{"proto": 6, "first": 18620,
                                                                                 "addr": "127.0.0.1", "flags": 1}]}])),
        ("loopback target", encode_update([{"pif": 1, "rules": [{"proto": 6, "first": 18630, "taddr": "127.0.0.1"}]}])),
        ("bytes after the terminator", valid + b"\0"),
        ("garbage", bytes(range(7, 200))),
    ]
    failures = 0
    for name, data in cases:
        send_raw(path, data)
        after = tables_of(path)
        if after == before:
            print(f"rejected {name}", flush=True)
        else:
            print(f"CHANGED {name}", flush=True)
            failures += 1
            before = after
    if failures == 0:
        print(f"ok {len(cases)}")
    return failures == 0


def echo_ok(s, message):
    s.sendall(message)
    received = b""
    while len(received) < len(message):
        chunk = s.recv(65536)
        if not chunk:
            return False
        received += chunk
    return received == message


def atomic(path, pid, host, port, tables):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    a = socket.create_connection((host, port), timeout=5)
    result = {"a_before": echo_ok(a, b"A before")}
    control = connect(path)
    read_greeting(control)
    os.kill(pid, signal.SIGSTOP)
    try:
        control.sendall(encode_update(tables))
        control.close()
        # Readiness order is epoll's: the update first, then B in the listener's queue.
        time.sleep(0.2)
        b = socket.socket(family, socket.SOCK_STREAM)
        b.settimeout(5)
        b.connect((host, port))  # the kernel completes the handshake; nobody has accepted yet
        b.sendall(b"B queued")
        time.sleep(0.2)
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        received = b""
        while len(received) < 8:
            chunk = b.recv(100)
            if not chunk:
                break
            received += chunk
        result["b_served"] = received == b"B queued"
    except OSError as error:
        result["b_served"] = False
        result["b_error"] = str(error)
    try:
        result["a_after"] = echo_ok(a, b"A after")
    except OSError as error:
        result["a_after"] = False
        result["a_error"] = str(error)
    print(json.dumps(result))
    return result["a_before"] and result["b_served"] and result["a_after"]


def silent(path, seconds, prefix):
    with connect(path, timeout=seconds + 5) as s:
        read_greeting(s)
        start = time.time()
        if prefix:
            s.sendall(prefix)
        s.settimeout(seconds)
        try:
            closed = s.recv(1) == b""
        except socket.timeout:
            closed = False
        print(f"{time.time() - start:.2f}" if closed else "still open")
        return True


def main(argv):
    command = argv[1]
    if command == "greeting":
        print(json.dumps(greeting(argv[2])))
        return True
    if command == "send":
        send_raw(argv[2], encode_update(json.loads(argv[3])))
        return True
    if command == "malformed":
        return malformed(argv[2])
    if command == "atomic":
        return atomic(argv[2], int(argv[3]), argv[4], int(argv[5]), json.loads(argv[6]))
    if command == "silent":
        return silent(argv[2], float(argv[3]), bytes.fromhex(argv[4]) if len(argv) > 4 else b"")
    return False


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
