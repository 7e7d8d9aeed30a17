#!/usr/bin/env python3
"""Builds tests/data/sample/mayweather_sample.jsonl: 40 real tweets of FiveThirtyEight's Mayweather-McGregor
hashtag archive (../shared/data/fte_mayweather_mcgregor_hashtag, CC BY 4.0) in snscrape's JSONL layout
(id, url, date, rawContent, content, user{username}, hashtags, mentionedUsers). Only fields the source has are
written (it has no engagement counts). Selection: the first 40 records, in file order, whose text is at least
five words of mostly ASCII letters (English), so that the README's sample shows sentiment predictions."""
import csv, gzip, io, json, re, sys

src = "../shared/data/fte_mayweather_mcgregor_hashtag/tweets.csv.gz"
out = []
with gzip.open(src, "rt", encoding="utf-8", newline="") as f:
    for r in csv.DictReader(f):
        t = r["text"]
        letters = sum(c.isascii() and c.isalpha() for c in t)
        if len(t.split()) < 5 or letters < 0.6 * len(t) or t.startswith("RT @"):
            continue
        date = r["created_at"].replace(" ", "T") + "+00:00"
        out.append({
            "_type": "snscrape.modules.twitter.Tweet",
            "url": r["link"],
            "date": date,
            "rawContent": t,
            "content": t,
            "id": int(r["id"]),
            "user": {"username": r["screen_name"]},
            "hashtags": re.findall(r"#(\w+)", t) or None,
            "mentionedUsers": [{"username": m} for m in re.findall(r"@(\w+)", t)] or None,
        })
        if len(out) == 40:
            break
sys.stdout.write("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out))
