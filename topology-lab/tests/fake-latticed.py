#!/usr/bin/env python3
"""A stand-in for latticed in lab tests: serves the local API (status, attach) on the socket of
its config, hands out addresses from its block, wires nothing and never establishes BGP."""
import ipaddress, json, os, re, socket, sys

cfg = open(sys.argv[sys.argv.index("--config") + 1]).read()
def key(k):
    return re.search(r"^\s*%s:\s*'?([^'\s]+)" % k, cfg, re.M).group(1)
path, block, name = key("socket"), ipaddress.ip_network(key("block")), key("name")
peers = re.findall(r"address:\s*'?([0-9.]+)'?,?\s*asn:\s*(\d+)", cfg.replace("\n", " "))
peers = [p for p in peers if p[0] != "0.0.0.0"]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen()
hosts, attached = block.hosts(), {}
next(hosts)  # latticed keeps .1 for itself
while True:
    conn, _ = srv.accept()
    f = conn.makefile("rw")
    req = json.loads(f.readline())
    if req["op"] == "status":
        reply = {"reply": "status", "node": name, "asn": 1, "router_id": "10.0.0.1",
                 "blocks": [str(block)], "attachments": len(attached), "learned_routes": 0,
                 "peers": [{"address": a, "remote_as": int(asn), "state": "Active",
                            "uptime_secs": None, "prefixes_received": 0, "prefixes_advertised": 0,
                            "remote_router_id": None, "last_error": None} for a, asn in peers]}
    elif req["op"] == "attach":
        cid = req["container_id"]
        if cid not in attached:
            attached[cid] = str(next(hosts))
        reply = {"reply": "attached", "container_id": cid, "ifname": req.get("ifname", "eth0"),
                 "address": attached[cid], "host_ifname": "fake", "netns": req["netns"]}
    else:
        reply = {"reply": "error", "kind": "bad_request", "message": "fake"}
    f.write(json.dumps(reply) + "\n")
    f.flush()
    conn.close()
