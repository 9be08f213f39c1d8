#!/usr/bin/env python3
"""Memory per key of kopi and redis-server, side by side, on loopback.

    python3 bench/memory.py KOPI_BINARY

Starts each server on a free port (no persistence), fills 20,000 keys of one kind at a time
(strings, small hashes, sets, intsets, lists, sorted sets; 300 big hashes) through pipelines of
1000 commands, and prints INFO memory `used_memory` growth per key as a Markdown table with the
kopi/redis ratio. Uses /usr/bin/redis-server. Each server is killed by its pid when done.
"""
import socket, subprocess, time, sys, os, tempfile
def enc(c): return ("*%d\r\n"%len(c)+"".join("$%d\r\n%s\r\n"%(len(a),a) for a in c)).encode()
def free_port():
    s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]; s.close(); return p
def rd(sock):
    buf=b""
    while True:
        d=sock.recv(1<<20)
        if not d: break
        buf+=d
        if buf.endswith(b"\r\n"): 
            return buf
def cmd(sock, c):
    sock.sendall(enc(c)); return rd(sock)
def info_mem(sock):
    r=cmd(sock,["INFO","memory"]).decode()
    for l in r.split("\r\n"):
        if l.startswith("used_memory:"): return int(l.split(":")[1])
def run(binary, workload, n):
    port=free_port(); d=tempfile.mkdtemp()
    p=subprocess.Popen([binary,"--port",str(port),"--save","","--appendonly","no","--dir",d],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    for _ in range(100):
        try: s=socket.create_connection(("127.0.0.1",port)); break
        except: time.sleep(0.05)
    before=info_mem(s)
    batch=[]
    for i in range(n):
        batch.append(enc(workload(i)))
        if len(batch)==1000:
            s.sendall(b"".join(batch)); 
            got=0; buf=b""
            while buf.count(b"\r\n")<1000: buf+=s.recv(1<<20)
            batch=[]
    if batch:
        s.sendall(b"".join(batch)); buf=b""
        while buf.count(b"\r\n")<len(batch): buf+=s.recv(1<<20)
    time.sleep(0.3)
    after=info_mem(s)
    p.kill(); p.wait()
    return (after-before)/n
N=20000
workloads={
 "string (16 B value)": lambda i: ["SET","key:%d"%i,"v"*16],
 "hash (10 fields)": lambda i: ["HSET","h:%d"%i]+sum([["field%d"%j,"value%d"%j] for j in range(10)],[]),
 "set (10 members)": lambda i: ["SADD","s:%d"%i]+["member%d"%j for j in range(10)],
 "intset (10 ints)": lambda i: ["SADD","i:%d"%i]+[str(j*7) for j in range(10)],
 "list (10 items)": lambda i: ["RPUSH","l:%d"%i]+["item%d"%j for j in range(10)],
 "zset (10 members)": lambda i: ["ZADD","z:%d"%i]+sum([[str(j),"member%d"%j] for j in range(10)],[]),
 "hash (600 fields, hashtable)": lambda i: ["HSET","H:%d"%i]+sum([["field%d"%j,"value%d"%j] for j in range(600)],[]),
}
kopi=sys.argv[1]; redis="/usr/bin/redis-server"
print("| value | kopi bytes/key | redis bytes/key | kopi/redis |")
print("|---|---|---|---|")
for name,w in workloads.items():
    n = N if "hashtable" not in name else 300
    k=run(kopi,w,n); r=run(redis,w,n)
    print("| %s | %.0f | %.0f | %.2f |"%(name,k,r,k/r))
