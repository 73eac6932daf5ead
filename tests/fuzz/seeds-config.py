#!/usr/bin/env python3
"""Write the seed corpus of fuzz_config (tests/fuzz/corpus-config/):
configuration files in the form of docs/configuration.md (null LUs
only: fuzz_config skips anything naming a file)."""
import json
import os

out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-config")
full = {
    "portals": ["0.0.0.0:3260", "[::]:3260"],
    "discovery": {"auth": True, "chap": {"user": "discovery", "secret": "d1scovery-s3cret"},
                  "mutual_chap": {"user": "gateway", "secret": "g4teway-s3cret"}},
    "targets": [
        {"iqn": "iqn.2024-01.com.example:storage.db", "demo_mode": False,
         "chap": {"user": "db-target", "secret": "t4rget-s3cret!"},
         "params": {"MaxRecvDataSegmentLength": "256K", "MaxBurstLength": "1M",
                    "FirstBurstLength": "256K", "InitialR2T": False, "ImmediateData": True,
                    "MaxOutstandingR2T": 1, "DefaultTime2Wait": 2, "DefaultTime2Retain": 20,
                    "HeaderDigest": "CRC32C", "DataDigest": "None", "queue_depth": 128,
                    "nop_interval": 30, "nop_timeout": 30},
         "luns": [{"lun": 0, "backstore": "null", "size": "200G"},
                  {"lun": 1, "backstore": "null", "block_size": 4096, "size": "1G",
                   "wwn": "6534757000000000000000000000d001"},
                  {"lun": 2, "backstore": "null", "size": "1G", "readonly": True,
                   "alua": {"policy": "preferred", "preferred_node": 2, "others": "standby"}}],
         "acls": [{"initiator": "iqn.1994-05.com.redhat:db1",
                   "chap": {"user": "db1", "secret": "db1-1nitiator-s3cret"},
                   "mutual_chap": {"user": "db-target", "secret": "db1-t4rget-s3cret"}},
                  {"initiator": "iqn.1991-05.com.microsoft:backup01",
                   "lun_map": [{"mapped_lun": 0, "lun": 2}]}]},
        {"iqn": "iqn.2024-01.com.example:lab", "demo_mode": True,
         "luns": [{"lun": 0, "backstore": "null", "size": "10G",
                   "alua": {"policy": "active-optimized"}}]},
        {"iqn": "eui.0123456789ABCDEF", "luns": []},
        {"iqn": "naa.6001405abcdef0123456789abcdef012", "params": {"HeaderDigest": True,
                                                                 "DataDigest": "Yes"}},
    ],
}
seeds = {
    "full": json.dumps(full, indent=2),
    "empty": "{}",
    "portals-only": json.dumps({"portals": ["127.0.0.1", "[::1]:3261"]}),
    "lab": json.dumps({"targets": [full["targets"][1]]}),
    "bad-size": json.dumps({"targets": [{"iqn": "iqn.2024-01.com.example:x",
                                         "luns": [{"lun": 0, "backstore": "null", "size": "12Q"}]}]}),
    "twice": json.dumps({"targets": [full["targets"][1], full["targets"][1]]}),
    "lun-map": json.dumps({"targets": [{"iqn": "iqn.2024-01.com.example:m", "luns": [
        {"lun": 5, "backstore": "null", "size": "1M"}], "acls": [
        {"initiator": "iqn.2024-01.com.example:i", "lun_map": [{"mapped_lun": 0, "lun": 5},
                                                               {"mapped_lun": 1, "lun": 5}]}]}]}),
}

os.makedirs(out_dir, exist_ok=True)
for name, text in seeds.items():
    with open(os.path.join(out_dir, name), "w") as f:
        f.write(text + "\n")
print(f"{len(seeds)} seeds in {out_dir}")
