#!/usr/bin/env python3
"""IRA trolls mixed with the organic Mayweather archive: share of troll accounts in a coordinated component
(per account_category) and the share of organic users flagged, from `tern coordinate --edges` output.

usage: eval_ira.py EDGES.csv [SHARED_DATA_DIR]   (SHARED_DATA_DIR defaults to ../shared/data)
"""
import csv, gzip, json, sys, collections

edges_path = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else "../shared/data"
cat = {}
with open(f"{data}/ira_russian_trolls_sample/sample_accounts.csv", newline="") as f:
    for r in csv.DictReader(f):
        cat[r["author_id"]] = r["account_category"]
organic = set()
with gzip.open(f"{data}/fte_mayweather_mcgregor_hashtag/tweets.csv.gz", "rt", newline="", encoding="utf-8") as f:
    for r in csv.DictReader(f):
        organic.add(r["screen_name"])
flagged = set()
by_type = collections.Counter()
with open(edges_path, newline="") as f:
    for r in csv.DictReader(f):
        flagged.add(r["source"]); flagged.add(r["target"])
        by_type[r["type"]] += 1
per = collections.Counter(cat.values())
hit = collections.Counter(c for a, c in cat.items() if a in flagged)
out = {"trolls": len(cat), "trolls_flagged": sum(hit.values()),
       "troll_share": round(sum(hit.values()) / len(cat), 4),
       "organic": len(organic), "organic_flagged": len(flagged & organic),
       "organic_share": round(len(flagged & organic) / len(organic), 4),
       "per_category": {c: [hit[c], per[c], round(hit[c] / per[c], 3)] for c in sorted(per)},
       "edge_rows_by_type": dict(by_type)}
print(json.dumps(out, indent=1))
