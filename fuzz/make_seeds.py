#!/usr/bin/env python3
"""Writes the hand-made seeds of the resp_parse, aof_load, config_parse and command targets
into fuzz/corpus/<target>/seed-*, in each target's input layout (the header its body reads
with `arbitrary`, see src/fuzz/). The command alphabet is read from src/fuzz/command.rs, so
the seeds name commands by their index there. Run from the repository root after changing a
layout or an alphabet: python3 fuzz/make_seeds.py"""

import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(target, name, data):
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# ---- resp_parse: auth, limit choice [, tiny limit], pad? [at u16, len, byte], reads, bytes
PAD_BYTES = b"a0 \r\n$*\""


def resp_seed(data, auth=True, limit=0, tiny=0, pad=None, reads=()):
    h = bytes([1 if auth else 0, limit])
    if limit == 3:
        h += bytes([tiny])
    if pad is None:
        h += b"\x00"
    else:
        at, extra, byte = pad
        h += b"\x01" + struct.pack("<H", at) + bytes([extra, PAD_BYTES.index(byte)])
    h += bytes([len(reads)]) + bytes(reads)
    return h + data


RESP = {
    "set": resp_seed(resp("SET", "k", "v"), reads=[1, 3, 7]),
    "pipeline": resp_seed(resp("SET", "k", "0123456789") + b"PING\r\n" + resp("GET", "k")
                          + b"ECHO \"a b\" 'c'\n\r\n*0\r\n*-1\r\n", reads=[5, 2, 200]),
    "inline-quotes": resp_seed(b"SET k \"\\x41\\n\\t\\\"x\" 'it\\'s' \r\nGET k\n", reads=[4]),
    "unbalanced": resp_seed(b"SET \"a\r\nPING\r\n", reads=[2]),
    "quote-glued": resp_seed(b"SET \"a\"b c\r\n", reads=[1]),
    "mbulk-negative": resp_seed(b"*-10\r\nPING\r\n", reads=[3]),
    "mbulk-huge": resp_seed(b"*3000000000\r\n", reads=[2]),
    "bulk-negative": resp_seed(b"*1\r\n$-10\r\n", reads=[2]),
    "bulk-huge-declared": resp_seed(b"*2\r\n$3\r\nGET\r\n$2000000000\r\nab", reads=[9]),
    "bulk-words": resp_seed(b"*1\r\n$blabla\r\n"),
    "expected-dollar": resp_seed(b"*1\r\nfoo\r\n"),
    "nested": resp_seed(b"*1\r\n*1\r\n$1\r\nx\r\n"),
    "nul-desync": resp_seed(b"\x00" * 64 + b"\r\n", reads=[16]),
    "unauth-args": resp_seed(b"*11\r\n", auth=False),
    "unauth-bulk": resp_seed(b"*1\r\n$16385\r\n", auth=False, reads=[4]),
    "unauth-ok": resp_seed(resp("AUTH", "pw") + b"*1\r\n$16384\r\n", auth=False),
    "max-bulk-len": resp_seed(resp("SET", "k", "x" * 20) + resp("SET", "k", "y" * 5),
                              limit=3, tiny=10, reads=[6]),
    "max-bulk-len-1mb": resp_seed(b"*2\r\n$3\r\nGET\r\n$1048577\r\n", limit=1),
    "crlf-missing": resp_seed(b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n"),
    "cr-only": resp_seed(b"*1\r$4\rPING\r", reads=[1]),
    "lf-only": resp_seed(b"PING\nPING\n\n", reads=[1]),
    "inline-at-limit": resp_seed(b"\n", pad=(0, 8, ord("a")), reads=[200, 210]),
    "inline-over-limit": resp_seed(b"\n", pad=(0, 9, ord("a")), reads=[255]),
    "mbulk-count-at-limit": resp_seed(b"*1\r\n$1\r\nx\r\n", pad=(1, 7, ord("0")),
                                      reads=[255, 254]),
    "mbulk-count-over-limit": resp_seed(b"*1\r\n$1\r\nx\r\n", pad=(1, 10, ord("0")),
                                        reads=[255]),
    "bulk-count-at-limit": resp_seed(b"*1\r\n$1\r\nx\r\n", pad=(5, 7, ord("0")),
                                     reads=[255, 3]),
    "spaces-line": resp_seed(b"\r\n", pad=(0, 8, ord(" ")), reads=[250]),
}
for name, data in RESP.items():
    write("resp_parse", name, data)


# ---- aof_load: truncated_ok, layout, buffer size, read size, manifest len, manifest, file
def aof_seed(file, truncated_ok=True, layout=0, buffer=1, read=7, manifest=b""):
    assert len(manifest) < 256
    return bytes([1 if truncated_ok else 0, layout, buffer - 1, read - 1, len(manifest)]) \
        + manifest + file


INCR = (b"#TS:1795718423\r\n" + resp("SELECT", "0")
        + resp("SET", "k", "v", "PXAT", "4102444800000")
        + resp("MULTI") + resp("incr", "ctr") + resp("SADD", "s", "a", "b")
        + resp("SREM", "s", "b") + resp("EXEC")
        + resp("RPUSH", "l", "1", "2", "3") + resp("HSET", "h", "f", "v")
        + resp("ZADD", "z", "1", "a", "2.5", "b") + resp("PEXPIREAT", "l", "4102444800000"))
MANIFEST = (b"file appendonly.aof.1.base.rdb seq 1 type b\n"
            b"file appendonly.aof.1.incr.aof seq 1 type i\n")
with open(os.path.join(ROOT, "fuzz/corpus/rdb_load/redis-7.0-small-uncompressed.rdb"), "rb") as f:
    RDB_BASE = f.read()
AOF = {
    "incr": aof_seed(INCR),
    "incr-strict": aof_seed(INCR, truncated_ok=False, buffer=64, read=64),
    "torn-command": aof_seed(INCR + resp("SET", "a", "b")[:-5]),
    "torn-no-truncate": aof_seed(INCR + resp("SET", "a", "b")[:-5], truncated_ok=False),
    "unfinished-multi": aof_seed(resp("SET", "a", "1") + resp("MULTI") + resp("SET", "a", "2")),
    "torn-annotation": aof_seed(INCR + b"#TS:17957"),
    "garbage-middle": aof_seed(resp("SET", "a", "1") + b"!!!" + resp("SET", "b", "2")),
    "zero-tail": aof_seed(resp("SET", "a", "1") + b"\x00" * 40),
    "nested-multi": aof_seed(resp("MULTI") + resp("MULTI") + resp("EXEC")),
    "exec-alone": aof_seed(resp("EXEC")),
    "unknown-command": aof_seed(resp("NOSUCHCOMMAND", "x")),
    "wrong-arity": aof_seed(resp("SET", "a") + resp("SET", "b", "1")),
    "select-far": aof_seed(resp("SELECT", "99") + resp("SET", "a", "1")),
    "flushall-expire": aof_seed(resp("SET", "a", "1") + resp("FLUSHALL")
                                + resp("SET", "b", "2", "PXAT", "1") + resp("SET", "c", "3")),
    "long-annotation": aof_seed(b"#" + b"x" * 1100 + b"\r\n" + resp("SET", "a", "1")),
    "rdb-base": aof_seed(RDB_BASE, layout=1),
    "rdb-preamble-tail": aof_seed(RDB_BASE + resp("SET", "tail", "1"), layout=0),
    "resp-base": aof_seed(INCR, layout=1),
    "manifest-history": aof_seed(
        INCR, layout=2, manifest=b"file appendonly.aof.1.base.aof seq 1 type b\n"
        b"file appendonly.aof.1.incr.aof seq 1 type h\n"
        b"file appendonly.aof.2.incr.aof seq 2 type i\n"),
    "manifest-quoted": aof_seed(INCR, layout=2,
                                manifest=b"file \"a b.aof\" seq 1 type i startoffset 0\n"),
    "manifest-base-rdb": aof_seed(RDB_BASE, layout=2, manifest=MANIFEST),
    "manifest-bad-seq": aof_seed(INCR, layout=2, manifest=b"file x seq 2 type i\n"
                                 b"file y seq 1 type i\n"),
    "manifest-blank-line": aof_seed(INCR, layout=2, manifest=b"file x seq 1 type i\n\n"),
    "manifest-path": aof_seed(INCR, layout=2, manifest=b"file ../x seq 1 type i\n"),
}
for name, data in AOF.items():
    write("aof_load", name, data)


# ---- config_parse: u16 text length, text, pairs (bytes the fuzzer reads as choices)
def config_seed(text, pairs=b""):
    text = text.encode()
    return struct.pack("<H", len(text)) + text + pairs


CONFIG = {
    "typical": config_seed(
        "# redis.conf\nport 6380\nbind 127.0.0.1 ::1\nprotected-mode yes\nsave 900 1\n"
        "save 300 10\nappendonly yes\nappendfsync everysec\nappendfilename \"my.aof\"\n"
        "maxmemory 100mb\nmaxmemory-policy allkeys-lru\nmaxclients 10000\n"
        "client-output-buffer-limit pubsub 32mb 8mb 60\nnotify-keyspace-events KEA\n"
        "latency-tracking-info-percentiles 50 99 99.9\nrequirepass \"p a s s\"\n"
        "oom-score-adj-values 0 200 800\nhz 100\nreplicaof no one\nloglevel warning\n"
        "unixsocketperm 700\nslave-read-only yes\nshutdown-on-sigterm save\n",
        bytes([8, 0, 3, 0, 1, 5, 0, 7, 2, 0, 9, 1, 40, 1, 0, 40, 2, 3, 0, 11, 0, 12, 2])),
    "save-empty": config_seed("save \"\"\nsave 60 1000\nsave 10 1 20 2\n", bytes([2, 1, 0, 3])),
    "errors": config_seed("port abc\n", bytes([1, 0, 0, 0])),
    "unknown": config_seed("nosuchdirective 1\nport 1\n"),
    "quotes": config_seed("requirepass \"a\\x00b\\n\"\nmasterauth 'it\\'s'\n"),
    "unbalanced": config_seed("requirepass \"abc\n"),
    "rewrite-duplicates": config_seed("port 1\nport 2\nmaxmemory 1gb\nmaxmemory 3\n"
                                      "include /nonexistent\n# Generated by CONFIG REWRITE\n"),
    "memory-units": config_seed("maxmemory 1GB\nclient-query-buffer-limit 1kb\n"
                                "proto-max-bulk-len 2mb\nactive-defrag-ignore-bytes 100\n"),
    "percent": config_seed("maxmemory-clients 10%\n"),
    "deprecated": config_seed("list-max-ziplist-entries 128\nhash-max-ziplist-value 64\n"
                              "rename-command FLUSHALL \"\"\nuser default on nopass ~* +@all\n"),
    "pairs-only": config_seed("", bytes([8] + [0, 10, 0, 0] * 8)),
}
for name, data in CONFIG.items():
    write("config_parse", name, data)


# ---- command: count, then each command: name, [subcommand], argc, arguments
SRC = open(os.path.join(ROOT, "src/fuzz/command.rs")).read()


def rust_list(name):
    body = re.search(r"const " + name + r": &\[&(?:\[u8\]|str)\] = &\[(.*?)\n\];", SRC,
                     re.S).group(1)
    body = "\n".join(line.split("//")[0] for line in body.split("\n"))
    items = re.findall(r'b?"((?:[^"\\]|\\.)*)"', body)
    return [bytes(i, "latin-1").decode("unicode_escape").encode("latin-1") for i in items]


NAMES = rust_list("NAMES")
SUBS = {b"DEBUG": rust_list("DEBUG_SUBCOMMANDS"), b"CLIENT": rust_list("CLIENT_SUBCOMMANDS"),
        b"CONFIG": rust_list("CONFIG_SUBCOMMANDS")}
KEYS = rust_list("KEYS")
WORDS = rust_list("WORDS")
NUMBERS = rust_list("NUMBERS")


def arg(a):
    a = a if isinstance(a, bytes) else a.encode()
    if a in KEYS:
        return bytes([0, KEYS.index(a)])
    if a in WORDS:
        return bytes([4, WORDS.index(a)])
    if a in NUMBERS:
        return bytes([6, NUMBERS.index(a)])
    assert len(a) <= 24, a
    return bytes([8, len(a)]) + a


def command_seed(*commands):
    out = bytes([len(commands) - 1])
    for c in commands:
        words = [w if isinstance(w, bytes) else w.encode() for w in c.split(" ")] \
            if isinstance(c, str) else list(c)
        name = words[0].upper()
        out += bytes([NAMES.index(name)])
        rest = words[1:]
        if name in SUBS:
            out += bytes([SUBS[name].index(rest[0].upper())])
            rest = rest[1:]
        out += bytes([len(rest)]) + b"".join(arg(a) for a in rest)
    return out


COMMANDS = {
    "strings": ["SET k v", "APPEND k x", "GETRANGE k 0 -1", "SETRANGE k 3 abc", "INCR k2",
                "INCRBYFLOAT k2 0.5", "GETEX k PX 100", "MSET k v {t}a 1", "LCS k {t}a",
                "SET k 9223372036854775807", "INCR k", "DECRBY k -9223372036854775808"],
    "lists": ["RPUSH k a b c", "LPUSH k 1 2", "LINSERT k BEFORE a x", "LRANGE k 0 -1",
              "LPOS k a RANK -1", "LTRIM k 1 -2", "LMOVE k k2 LEFT RIGHT", "LREM k 0 a",
              "LPOP k 3", "LMPOP 2 k k2 LEFT COUNT 10", "RPOPLPUSH k2 k2"],
    "hashes": ["HSET k a 1 b 2", "HINCRBY k a 9223372036854775807", "HINCRBYFLOAT k b 1e308",
               "HRANDFIELD k -3 WITHVALUES", "HDEL k a b", "HSETNX k2 f v", "HGETALL k2",
               "HSCAN k2 0 MATCH * COUNT 10"],
    "sets": ["SADD k 1 2 3 a", "SADD k2 2 3", "SINTERSTORE {t}a k k2", "SPOP k 2",
             "SRANDMEMBER k -5", "SMOVE k k2 a", "SDIFFSTORE k k2 k", "SINTERCARD 2 k k2 LIMIT 1",
             "SMEMBERS k2"],
    "zsets": ["ZADD k 1 a 2 b inf c", "ZADD k GT CH 3 a", "ZINCRBY k -inf c",
              "ZRANGE k (1 +inf BYSCORE LIMIT 0 1", "ZRANGESTORE k2 k 0 -1 REV",
              "ZUNIONSTORE {t}a 2 k k2 WEIGHTS 2 3 AGGREGATE MAX", "ZPOPMIN k 2",
              "ZRANDMEMBER k2 -3 WITHSCORES", "ZREMRANGEBYLEX k2 - +", "ZMPOP 2 k k2 MAX"],
    "keys-expire": ["SET k v EX 100", "COPY k k2 REPLACE", "RENAME k {t}a", "MOVE {t}a 3",
                    "SELECT 3", "TTL {t}a", "PERSIST {t}a", "SWAPDB 0 3", "DUMP k2",
                    "EXPIRE k2 -1", "PEXPIREAT {t}a 1", "SCAN 0 TYPE string", "RANDOMKEY",
                    "OBJECT ENCODING {t}a", "TYPE {t}a"],
    "transaction": ["WATCH k", "MULTI", "SET k 1", "INCR k", "LPUSH k x", "EXEC", "MULTI",
                    "SET k2 v", "DISCARD", "EXEC", "UNWATCH"],
    "sort": ["RPUSH k 3 1 2", "SET {t}a 5", "SORT k", "SORT k DESC LIMIT 0 2", "SORT k ALPHA",
             "SORT k BY nosort STORE k2", "SORT_RO k2"],
    "resp3": ["HELLO 3", "HSET k a 1", "HGETALL k", "ZADD k2 1 a", "ZRANGE k2 0 -1 WITHSCORES",
              "DEBUG PROTOCOL map", "CLIENT INFO", "RESET", "PING"],
    "server": ["CONFIG GET *max*", "INFO", "MEMORY USAGE k", "DEBUG DIGEST", "SLOWLOG GET",
               "LATENCY LATEST", "COMMAND COUNT", "CLIENT SETNAME x", "CLIENT REPLY OFF",
               "SET k v", "CLIENT REPLY ON", "ECHO k", "TIME", "ROLE", "FLUSHALL"],
    "extremes": ["SETRANGE k 536870912 x", "GETRANGE k -9223372036854775808 9223372036854775807",
                 "LRANGE k -9223372036854775808 9223372036854775807",
                 "SRANDMEMBER k -9223372036854775808", "HRANDFIELD k -9223372036854775808",
                 "ZRANDMEMBER k -9223372036854775808", "EXPIRE k 9223372036854775807",
                 "SET k v PX 9223372036854775807", "INCRBY k 9223372036854775808",
                 "MSETNX k v k x"],
    "restore": ["SET k v", [b"RESTORE", b"k2", b"0", b"\x00\x01v\x0a\x00\xbb\x8b\x6a\x1b\x57\xd8\x05\x52"],
                "TYPE k2", "DEBUG DIGEST-VALUE k2"],
}
for name, commands in COMMANDS.items():
    write("command", name, command_seed(*commands))
