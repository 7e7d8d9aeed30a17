#!/usr/bin/env python3
"""Builds the texts of tests/data/tokenizer/extra_gold.jsonl.gz: raw tweets from several ../shared/data sets
(raw handles, URLs, emoji, many scripts) plus synthetic Unicode stress strings (seeded, reproducible).
Usage: python3 tests/tokenizer/gen/make_extra_texts.py > /tmp/extra_texts.jsonl
Then:  NODE_PATH=/tmp/hftok/node_modules node tests/tokenizer/gen/hf_gold.js /tmp/extra_texts.jsonl \
         tests/data/tokenizer/extra_gold.jsonl   (and gzip -9 -n it)."""
import csv, gzip, io, json, random, sys

csv.field_size_limit(10**8)
D = '../shared/data/'
rng = random.Random(20261202)


def rows(path):
    op = gzip.open if path.endswith('.gz') else open
    with op(D + path, 'rt', encoding='utf-8', newline='') as f:
        yield from csv.DictReader(f)


def jsonl(path):
    import os
    op, path = (gzip.open, path + '.gz') if not os.path.exists(D + path) else (open, path)
    with op(D + path, 'rt', encoding='utf-8') as f:
        for line in f:
            yield json.loads(line)


def sample(it, key, n, tag):
    texts = [r[key] for r in it if r.get(key)]
    texts = sorted(set(texts))
    rng.shuffle(texts)
    return [(t, tag) for t in texts[:n]]


out = []
out += sample(rows('ira_russian_trolls_sample/tweets/NonEnglish.csv.gz'), 'content', 1200, 'ira/NonEnglish')
out += sample(rows('ira_russian_trolls_sample/tweets/RightTroll.csv.gz'), 'content', 400, 'ira/RightTroll')
out += sample(rows('karabakh_tweets_riyad/twitter.csv.gz'), 'Tweets', 800, 'karabakh')
out += sample(rows('fte_mayweather_mcgregor_hashtag/tweets.csv.gz'), 'text', 1000, 'mayweather')
out += sample(rows('elon_musk_gpreda_2022/elon_musk_tweets.csv.gz'), 'text', 400, 'elon2022')
for lang in ['ja', 'gr', 'es']:
    out += sample(jsonl(f'tweet_topicXL/data/{lang}/{lang}_1000.jsonl'), 'text', 400, 'topicxl/' + lang)

# Synthetic stress strings: random code points from every plane and category, combining runs, special
# tokens with whitespace around them, whitespace zoo, apostrophe contractions, long words.
pools = [
    (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x6FF), (0x900, 0xDFF),
    (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x2BFF), (0x2E80, 0x2FDF),
    (0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xABFF), (0xAC00, 0xD7A3),
    (0xE000, 0xF8FF), (0xF900, 0xFFFD), (0x10000, 0x1FFFF), (0x1F300, 0x1FAFF), (0x20000, 0x2FFFF),
    (0x30000, 0x3FFFF), (0xE0000, 0xE01EF), (0xF0000, 0xF00FF), (0x0, 0x1F), (0x80, 0x9F),
]
pieces = ['<s>', '</s>', '<mask>', '<pad>', '<unk>', '[CLS]', '[SEP]', '[MASK]', '[UNK]', '[PAD]', ' ', '  ',
          '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u2028', '\u200b', "'s", "'re", "'ll", "'d", "'ve", "'m",
          "'t", "'S", 'İ', 'ẞ', 'ß', 'Σ', 'ﬁ', 'Ǆ', '@user', 'http://t.co/x', '#tag', '...', '😂', '👍🏽',
          '👨\u200d👩\u200d👧', 'e\u0301', 'a\u0323\u0301', 'a\u0301\u0323', '\u0301', '１２３', '٣', '½',
          '\ufffd', '\ufeff', '\x00', '\x7f', '\x85', 'a' * 101, 'ab' * 60, '日本語', 'Ω', 'K', 'Å']


def rand_cp():
    lo, hi = rng.choice(pools)
    while True:
        c = rng.randint(lo, hi)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


for i in range(2200):
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(pieces))
        elif r < 0.7:
            parts.append(''.join(rand_cp() for _ in range(rng.randint(1, 6))))
        else:
            parts.append(rng.choice(['hello', 'World', "don't", 'RT', 'the', '2020', 'x1', 'naïve']))
        if rng.random() < 0.5:
            parts.append(rng.choice([' ', ' ', '  ', '\n', '\t']))
    out.append((''.join(parts), 'synthetic'))

for t, tag in out:
    print(json.dumps({'text': t, 'source': tag}, ensure_ascii=False))
