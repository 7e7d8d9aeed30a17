// Dataset readers: CSV (RFC 4180 edge cases), TSV, JSONL, TweetEval text + labels, gzip, bad rows; and the
// real TweetEval files in ../shared (skipped when absent).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "tensor/check.h"
#include "tests/util/test_util.h"
#include "train/dataset.h"

using namespace tern;
using namespace tern::train;
namespace fs = std::filesystem;

namespace {

// A scratch directory whose write() gzips names ending in .gz.
class Scratch : public tern::test::ScratchDir {
 public:
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = file(name);
    if (name.size() > 3 && name.substr(name.size() - 3) == ".gz") {
      gzFile f = gzopen(p.c_str(), "wb");
      gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(f);
    } else {
      tern::test::write_bytes(p, bytes);
    }
    return p;
  }
};

using tern::test::error_of;

LabelSpec single3() {
  return LabelSpec{Task::Single, {"negative", "neutral", "positive"}, 3};
}

}  // namespace

TEST(Csv, QuotesNewlinesCrlf) {
  // Quoted delimiters, doubled quotes, an embedded LF and CRLF, CRLF record ends, a blank line, no final
  // newline.
  const std::string csv =
      "id,text,label\r\n"
      "1,plain text,0\r\n"
      "2,\"with, comma\",1\r\n"
      "3,\"she said \"\"hi\"\"\",2\r\n"
      "\r\n"
      "4,\"two\nlines\",positive\r\n"
      "5,\"crlf\r\ninside\",neutral\r\n"
      "6,\"\",0";
  Scratch s;
  Dataset d = read_dataset(s.write("a.csv", csv), single3());
  ASSERT_EQ(d.size(), 6u);
  EXPECT_EQ(d.texts[0], "plain text");
  EXPECT_EQ(d.texts[1], "with, comma");
  EXPECT_EQ(d.texts[2], "she said \"hi\"");
  EXPECT_EQ(d.texts[3], "two\nlines");
  EXPECT_EQ(d.texts[4], "crlf\r\ninside");
  EXPECT_EQ(d.texts[5], "");
  EXPECT_EQ(d.targets, (std::vector<float>{0, 1, 2, 2, 1, 0}));
  // Line numbers of record starts (the blank line and the embedded newlines count).
  EXPECT_EQ(d.lines, (std::vector<int64_t>{2, 3, 4, 6, 8, 10}));
}

TEST(Csv, BadRowsNameFileAndLine) {
  const std::string csv =
      "text,label\n"
      "ok,0\n"
      "\"multi\nline\",1\n"
      "too,many,fields\n"   // line 5
      "bad label,7\n"       // line 6
      "\"after\"quote,1\n"  // line 7
      "fine,2\n";
  Scratch s;
  const std::string p = s.write("bad.csv", csv);
  const std::string e = error_of([&] { read_dataset(p, single3()); });
  EXPECT_NE(e.find(p + ":5:"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 2 fields"), std::string::npos) << e;
  ReadOptions ro;
  ro.skip_bad_rows = true;
  Dataset d = read_dataset(p, single3(), ro);
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.skipped, 3);
  ASSERT_EQ(d.skip_reasons.size(), 3u);
  EXPECT_NE(d.skip_reasons[1].find(p + ":6:"), std::string::npos) << d.skip_reasons[1];
  EXPECT_NE(d.skip_reasons[1].find("label 7"), std::string::npos) << d.skip_reasons[1];
  EXPECT_NE(d.skip_reasons[2].find(p + ":7:"), std::string::npos) << d.skip_reasons[2];
  EXPECT_EQ(d.texts[2], "fine");
  // Unterminated quote: names the line where it opened.
  const std::string p2 = s.write("open.csv", "text,label\nok,0\n\"never closed,1\nmore\n");
  const std::string e2 = error_of([&] { read_dataset(p2, single3()); });
  EXPECT_NE(e2.find("unterminated"), std::string::npos) << e2;
  EXPECT_NE(e2.find(p2 + ":3:"), std::string::npos) << e2;
  // Missing column: lists the header.
  const std::string e3 = error_of([&] {
    ReadOptions r;
    r.text_field = "tweet";
    read_dataset(p, single3(), r);
  });
  EXPECT_NE(e3.find("no column 'tweet'"), std::string::npos) << e3;
  EXPECT_NE(e3.find("text, label"), std::string::npos) << e3;
}

TEST(Csv, OutOfRangeNumericLabels) {
  // Found by fuzz_archives: a class id far outside int64 (7.8e40) was cast before its range check (UB).
  Scratch s;
  for (const std::string lab : {"7.77778e+40", "-1", "3", "-9.3e18", "1e300"}) {
    const std::string p = s.write("r.csv", "text,label\nok,0\nbad," + lab + "\n");
    const std::string e = error_of([&] { read_dataset(p, single3()); });
    EXPECT_NE(e.find(p + ":3:"), std::string::npos) << lab << ": " << e;
    EXPECT_NE(e.find("not a class id in [0, 3)"), std::string::npos) << lab << ": " << e;
  }
}

TEST(Csv, GzipAndFieldsAndMultiTarget) {
  Scratch s;
  const std::string p = s.write("r.csv.gz", "likes,retweets,body\n10,2,\"hello, world\"\n0,0,x\n");
  LabelSpec reg{Task::Regression, {}, 0};
  ReadOptions ro;
  ro.text_field = "body";
  ro.label_fields = {"likes", "retweets"};
  Dataset d = read_dataset(p, reg, ro);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.width, 2);
  EXPECT_EQ(d.texts[0], "hello, world");
  EXPECT_EQ(d.targets, (std::vector<float>{10, 2, 0, 0}));
  // A corrupt .gz is an error naming the file.
  const std::string bad = s.write("x.csv", "");
  fs::rename(bad, bad + ".gz");
  std::ofstream(bad + ".gz", std::ios::binary) << std::string("\x1f\x8b\x08\x00garbage", 12);
  const std::string e = error_of([&] { read_dataset(bad + ".gz", reg, ro); });
  EXPECT_NE(e.find(bad + ".gz"), std::string::npos) << e;
}

TEST(Tsv, QuoteNoneByDefault) {
  // As Python's csv.QUOTE_NONE: quotes are literal text in TSV.
  Scratch s;
  const std::string p = s.write("t.tsv", "label\ttext\n1\t\"\"\"quoted\"\" tweet\"\n0\tplain\n");
  Dataset d = read_dataset(p, single3());
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.texts[0], "\"\"\"quoted\"\" tweet\"");
  ReadOptions ro;
  ro.quoting = Quoting::Rfc4180;
  Dataset q = read_dataset(p, single3(), ro);
  EXPECT_EQ(q.texts[0], "\"quoted\" tweet");
}

TEST(Jsonl, FieldsListsAndBadLines) {
  Scratch s;
  const std::string p = s.write("m.jsonl",
                                "{\"text\": \"a\", \"topics\": [0, 2]}\n"
                                "{\"text\": \"b\", \"topics\": \"music|sports\"}\n"
                                "\n"
                                "{\"text\": \"c\", \"topics\": []}\n"
                                "not json\n"
                                "{\"text\": \"d\"}\n");
  LabelSpec ml{Task::Multi, {"arts", "music", "sports"}, 3};
  ReadOptions ro;
  ro.label_fields = {"topics"};
  const std::string e = error_of([&] { read_dataset(p, ml, ro); });
  EXPECT_NE(e.find(p + ":5:"), std::string::npos) << e;
  ro.skip_bad_rows = true;
  Dataset d = read_dataset(p, ml, ro);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.skipped, 2);
  EXPECT_EQ(d.targets, (std::vector<float>{1, 0, 1, 0, 1, 1, 0, 0, 0}));
  // One 0/1 field per label (tweet_topicXL style); with names and no --label-field, the names are the fields.
  const std::string p2 =
      s.write("x.jsonl", "{\"text\": \"t\", \"arts\": 1, \"music\": 0, \"sports\": true}\n");
  Dataset d2 = read_dataset(p2, ml);
  EXPECT_EQ(d2.targets, (std::vector<float>{1, 0, 1}));
}

TEST(TweetEval, TextAndLabelFiles) {
  Scratch s;
  s.write("val_text.txt", "first tweet\nsecond \"tweet\"\r\nthird\n");
  s.write("val_labels.txt.gz", "2\n0\n1\n");
  for (const std::string& arg : {std::string("val_text.txt"), std::string("val")}) {
    Dataset d = read_dataset(s.path(arg), single3());
    ASSERT_EQ(d.size(), 3u) << arg;
    EXPECT_EQ(d.texts[1], "second \"tweet\"");
    EXPECT_EQ(d.targets, (std::vector<float>{2, 0, 1}));
  }
  // Count mismatch names both files.
  const std::string t = s.write("bad_text.txt", "a\nb\n");
  s.write("bad_labels.txt", "1\n");
  const std::string e = error_of([&] { read_dataset(t, single3()); });
  EXPECT_NE(e.find("2 lines"), std::string::npos) << e;
  EXPECT_NE(e.find("bad_labels.txt has 1"), std::string::npos) << e;
  // A label out of range names the labels file and line.
  const std::string lp = s.write("oor_labels.txt", "1\n3\n");
  const std::string e2 = error_of([&] { read_dataset(s.write("oor_text.txt", "a\nb\n"), single3()); });
  EXPECT_NE(e2.find(lp + ":2:"), std::string::npos) << e2;
}

TEST(SharedData, TweetEvalSentimentFiles) {
  const std::string dir = "../shared/data/tweeteval/sentiment";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not found: ../shared is absent";
  Dataset tr = read_dataset(dir + "/train_reconstructed_from_semeval.tsv.gz", single3());
  EXPECT_EQ(tr.size(), 47493u);  // PROVENANCE: 47,493 rows, labels 7,416 / 21,290 / 18,787
  int64_t n[3] = {0, 0, 0};
  for (float y : tr.targets) ++n[static_cast<int>(y)];
  EXPECT_EQ(n[0], 7416);
  EXPECT_EQ(n[1], 21290);
  EXPECT_EQ(n[2], 18787);
  EXPECT_EQ(tr.texts[0].substr(0, 14), "Won the match ");
  Dataset val = read_dataset(dir + "/val", single3());
  EXPECT_EQ(val.size(), 2000u);
  Dataset test = read_dataset(dir + "/test_text.txt.gz", single3());
  EXPECT_EQ(test.size(), 12284u);
  int64_t t0 = 0;
  for (float y : test.targets) t0 += y == 0;
  EXPECT_EQ(t0, 3972);
}
