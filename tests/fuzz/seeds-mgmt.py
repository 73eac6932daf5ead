#!/usr/bin/env python3
"""Write the seed corpus of fuzz_mgmt (tests/fuzz/corpus-mgmt/): the
requests of docs/management-api.md against fuzz_mgmt.c's base gateway,
one request line per seed (a few seeds carry several lines)."""
import json
import os

out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-mgmt")
T = "iqn.2026-11.org.sangw:fuzz"
O = "iqn.2026-11.org.sangw:other"
A = "iqn.2026-11.org.sangw:fuzz-a"
B = "iqn.2026-11.org.sangw:fuzz-b"
doc = {"targets": [{"iqn": T, "demo_mode": True,
                    "params": {"MaxBurstLength": "512K", "HeaderDigest": "None"},
                    "luns": [{"lun": 0, "backstore": "null", "size": "2M"},
                             {"lun": 7, "backstore": "null", "size": "1M",
                              "wwn": "6534757000000000000000000000d001"}],
                    "acls": [{"initiator": B, "lun_map": [{"mapped_lun": 1, "lun": 0}]}]}],
       "discovery": {"auth": True, "chap": {"user": "disc", "secret": "d1scovery-s3cret"}}}

requests = {
    "list": {"request": "list", "id": 1},
    "version": {"request": "version"},
    "sessions": {"request": "sessions", "cluster": False},
    "stats": {"request": "stats"},
    "status": {"request": "status", "timeout_ms": 10},
    "fencing": {"request": "fencing"},
    "export": {"request": "export"},
    "reload": {"request": "reload"},
    "target-add": {"request": "target_add", "target": "iqn.2026-11.org.sangw:new",
                   "demo_mode": False, "params": {"MaxBurstLength": "512K"},
                   "chap": {"user": "new-target", "secret": "t4rget-s3cret!"}},
    "target-del": {"request": "target_del", "target": O},
    "lun-add-spec": {"request": "lun_add", "target": T, "spec": "null,size=2M,readonly=1", "lun": 9},
    "lun-add-fields": {"request": "lun_add", "target": T, "backstore": "null", "size": "4K",
                       "block_size": 4096, "alua": {"policy": "preferred", "preferred_node": 2,
                                                    "others": "standby"}},
    "lun-del": {"request": "lun_del", "target": T, "lun": 1},
    "lun-resize": {"request": "lun_resize", "target": T, "lun": 0, "size": "2M"},
    "acl-add": {"request": "acl_add", "target": T, "initiator": "iqn.1991-05.com.microsoft:backup01",
                "lun_map": [{"mapped_lun": 0, "lun": 1}],
                "chap": {"user": "backup01", "secret": "b4ckup-s3cret"}},
    "acl-del": {"request": "acl_del", "target": T, "initiator": A},
    "chap-set-discovery": {"request": "chap_set", "discovery": True, "user": "discovery",
                           "secret": "d1scovery-s3cret"},
    "chap-set-acl": {"request": "chap_set", "target": T, "initiator": A, "user": "db1",
                     "secret": "db1-1nitiator-s3cret", "mutual_user": "db-target",
                     "mutual_secret": "db1-t4rget-s3cret"},
    "chap-clear": {"request": "chap_clear", "target": T, "mutual_only": True},
    "param-set": {"request": "param_set", "target": T, "key": "MaxBurstLength", "value": "2M"},
    "portal-add": {"request": "portal_add", "portal": "127.0.0.1:3260"},
    "portal-del": {"request": "portal_del", "portal": "[::]:3260"},
    "alua-set": {"request": "alua_set", "target": O, "lun": 3, "state": "standby", "tpg": 1},
    "node-role": {"request": "node_role", "role": "promoted"},
    "node-role-query": {"request": "node_role"},
    "config-replace": {"request": "config_replace", "config": doc},
    "import-dry": {"request": "import", "config": doc, "dry_run": True},
    "import": {"request": "import", "config": doc},
}
lines = {
    "several": "\n".join(json.dumps(r) for r in (requests["lun-add-spec"], requests["list"],
                                                 requests["lun-del"], requests["export"])),
    "garbage": '{"request": "list"',
    "unknown": '{"request": "frobnicate", "id": [1, 2]}',
}

os.makedirs(out_dir, exist_ok=True)
for name, req in requests.items():
    with open(os.path.join(out_dir, name), "w") as f:
        f.write(json.dumps(req) + "\n")
for name, text in lines.items():
    with open(os.path.join(out_dir, name), "w") as f:
        f.write(text + "\n")
print(f"{len(requests) + len(lines)} seeds in {out_dir}")
