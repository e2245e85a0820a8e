#!/usr/bin/env python3
"""Worker processes of the VfsMount benchmark.

Each mode issues the same syscalls on every side it is pointed at; only what the side
needs for the same guarantee differs (the native side takes chibi's flock and fsyncs
itself; the mount does both inside write(2)). Results go to stdout as one JSON object;
a failing syscall ends the worker with {"error": ...} and exit status 1.

  append   --target F [--lock L] [--fsync] --count N --size B --ctx C --wid W [--barrier]
  docsave  --target F --side mount|native --count N --size B
  bigwrite --target F --size B --chunk B
  mkfiles  --target DIR --count N      (N empty files f000000…, each open O_CREAT|O_EXCL + close)
"""
import argparse
import errno
import fcntl
import json
import os
import sys
import time
import uuid

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud "
         "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat ")


def filler(n, salt=""):
    """n bytes of ASCII words (no quotes, backslashes or control characters)."""
    text = salt + " "
    while len(text) < n:
        text += WORDS
    return text[:n]


def entry_line(ctx, wid, i, size, content_cache):
    """A complete six-field transcript entry of about `size` bytes, '\n' included."""
    head = '{"id":"%s","timestamp":%d,"from":"bench","to":"%s","content":"' % (uuid.uuid4(), int(time.time()), ctx)
    tail = '","entry_type":"message"}\n'
    n = max(8, size - len(head) - len(tail))
    content = content_cache.get(n)
    if content is None:
        content = content_cache[n] = filler(n)
    tag = "w%d n%d " % (wid, i)
    return (head + tag + content[len(tag):] + tail).encode()


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def fail(e, at):
    name = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
    print(json.dumps({"error": "%s (%s) at operation %d" % (name, e.strerror or e, at)}), flush=True)
    sys.exit(1)


def append(a):
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if a.lock else 0)
    fd = os.open(a.target, flags, 0o644)
    lockfd = os.open(a.lock, os.O_RDWR | os.O_CREAT, 0o644) if a.lock else -1
    cache = {}
    entry_line(a.ctx, a.wid, 0, a.size, cache)   # warm the content cache
    if a.barrier:
        print("ready", flush=True)
        sys.stdin.readline()
    lat = []
    total = 0
    t0 = time.monotonic()
    i = 0
    try:
        for i in range(a.count):
            line = entry_line(a.ctx, a.wid, i, a.size, cache)
            s = time.monotonic()
            if lockfd >= 0:
                fcntl.flock(lockfd, fcntl.LOCK_EX)
            write_all(fd, line)
            if a.fsync:
                os.fsync(fd)
            if lockfd >= 0:
                fcntl.flock(lockfd, fcntl.LOCK_UN)
            lat.append(int((time.monotonic() - s) * 1e6))
            total += len(line)
    except OSError as e:
        fail(e, i)
    t1 = time.monotonic()
    os.close(fd)
    print(json.dumps({"t0": t0, "t1": t1, "n": a.count, "bytes": total, "lat_us": lat}), flush=True)


def docsave(a):
    body = bytearray(filler(a.size).encode())
    for k in range(0, len(body) - 1, 4096):
        body[k + 4095 if k + 4095 < len(body) else len(body) - 1] = ord("\n")
    directory = os.path.dirname(os.path.abspath(a.target))
    root, _ = os.path.splitext(a.target)
    dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY) if a.side == "native" else -1
    lat = []
    t0 = time.monotonic()
    i = 0
    try:
        for i in range(a.count):
            stamp = b"save %08d\n" % i
            body[0:len(stamp)] = stamp
            s = time.monotonic()
            if a.side == "mount":
                # The mount makes this durable and atomic: staged copy, committed at close.
                fd = os.open(a.target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                write_all(fd, body)
                os.close(fd)
            else:
                # What chibi does (temp beside the target, fsync, rename) plus the directory fsync.
                tmp = "%s.tmp.%d" % (root, i)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                write_all(fd, body)
                os.fsync(fd)
                os.close(fd)
                os.rename(tmp, a.target)
                os.fsync(dirfd)
            lat.append(int((time.monotonic() - s) * 1e6))
    except OSError as e:
        fail(e, i)
    t1 = time.monotonic()
    print(json.dumps({"t0": t0, "t1": t1, "n": a.count, "bytes": a.count * len(body), "lat_us": lat}), flush=True)


def bigwrite(a):
    chunk = bytearray(filler(a.chunk).encode())
    chunk[-1] = ord("\n")
    written, err, close_err = 0, None, None
    t0 = time.monotonic()
    fd = os.open(a.target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while written < a.size:
            piece = chunk if a.size - written >= len(chunk) else chunk[:a.size - written]
            write_all(fd, piece)
            written += len(piece)
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
    try:
        os.close(fd)
    except OSError as e:
        close_err = errno.errorcode.get(e.errno, str(e.errno))
    t1 = time.monotonic()
    print(json.dumps({"t0": t0, "t1": t1, "written": written, "errno": err, "close_errno": close_err}), flush=True)


def mkfiles(a):
    names = [os.path.join(a.target, "f%06d" % i) for i in range(a.count)]
    t0 = time.monotonic()
    i = 0
    try:
        for i, name in enumerate(names):
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError as e:
        fail(e, i)
    t1 = time.monotonic()
    print(json.dumps({"t0": t0, "t1": t1, "n": a.count}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["append", "docsave", "bigwrite", "mkfiles"])
    p.add_argument("--target", required=True)
    p.add_argument("--lock")
    p.add_argument("--fsync", action="store_true")
    p.add_argument("--barrier", action="store_true")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--chunk", type=int, default=1 << 20)
    p.add_argument("--ctx", default="bench")
    p.add_argument("--wid", type=int, default=0)
    p.add_argument("--side", choices=["mount", "native"], default="mount")
    a = p.parse_args()
    {"append": append, "docsave": docsave, "bigwrite": bigwrite, "mkfiles": mkfiles}[a.command](a)


if __name__ == "__main__":
    main()
