// infer/record_reader + infer/writer: every input format, gzip by magic bytes, encodings, bad rows with their
// line numbers, dotted field lookup, and the committed-lines writer's resume.
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "infer/record_reader.h"
#include "infer/writer.h"
#include "tests/util/test_util.h"

namespace tern::infer {
namespace {

using test::read_bytes;
using test::ScratchDir;
using test::write_bytes;
using json = nlohmann::json;

struct Got {
  int64_t line;
  std::string error;
  json j;
};

std::vector<Got> read_all(const std::string& path, const ReaderOptions& o = {}) {
  RecordReader r(path, o);
  std::vector<Got> out;
  Record rec;
  while (r.next(rec)) out.push_back({rec.line, rec.error, rec.json()});
  return out;
}

std::string gzip(const std::string& s) {
  std::string out(compressBound(static_cast<uLong>(s.size())) + 64, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = static_cast<uInt>(s.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(RecordReader, JsonlRecordsAndBadRows) {
  ScratchDir d;
  const std::string p = d.file("a.jsonl");
  write_bytes(p,
              "{\"id\": 1, \"text\": \"hi\"}\n"
              "{broken\n"
              "\n"
              "[1, 2]\n"
              "{\"data\": {\"text\": \"nested\", \"id\": \"7\"}}\r\n"
              "{\"text\": \"no newline at end\"}");
  const auto g = read_all(p);
  ASSERT_EQ(g.size(), 6u);
  EXPECT_EQ(g[0].line, 1);
  EXPECT_EQ(g[0].j["text"], "hi");
  EXPECT_EQ(g[1].line, 2);
  EXPECT_NE(g[1].error.find("invalid JSON"), std::string::npos) << g[1].error;
  EXPECT_EQ(g[2].error, "empty line");
  EXPECT_NE(g[3].error.find("not a JSON object"), std::string::npos);
  EXPECT_EQ(g[4].line, 5);
  ASSERT_TRUE(g[4].error.empty()) << g[4].error;
  ASSERT_NE(find_field(g[4].j, "data.text"), nullptr);
  EXPECT_EQ(*find_field(g[4].j, "data.text"), "nested");
  EXPECT_EQ(first_present_field(g[4].j, {"text", "data.text"}), "data.text");
  EXPECT_EQ(g[5].j["text"], "no newline at end");
}

// A number too large for a double is nlohmann's out_of_range, not a parse_error: still a bad row naming the
// line, and reading goes on (the fuzz_records finding of 2026-12-06, which ended the whole run).
TEST(RecordReader, NumberOverflowIsABadRow) {
  ScratchDir d;
  const std::string p = d.file("big.jsonl");
  write_bytes(p, "{\"text\": \"a\", \"n\": 8888888888888888888888E888888888}\n{\"text\": \"b\"}\n");
  const auto g = read_all(p);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].line, 1);
  EXPECT_NE(g[0].error.find("invalid JSON"), std::string::npos) << g[0].error;
  EXPECT_NE(g[0].error.find("overflow"), std::string::npos) << g[0].error;
  EXPECT_TRUE(g[1].error.empty()) << g[1].error;
  EXPECT_EQ(g[1].j["text"], "b");
}

TEST(RecordReader, CsvRfc4180) {
  ScratchDir d;
  const std::string p = d.file("a.csv");
  write_bytes(p,
              "id,text,n\r\n"
              "1,plain,3\r\n"
              "2,\"with, comma and \"\"quotes\"\"\",4\r\n"
              "3,\"two\nlines\",5\r\n"
              "4,short\r\n"
              "5,\"bad\"x,6\r\n"
              "6,last,7\r\n");
  const auto g = read_all(p);
  ASSERT_EQ(g.size(), 6u);
  EXPECT_EQ(g[0].line, 2);
  EXPECT_EQ(g[0].j["text"], "plain");
  EXPECT_EQ(g[0].j["n"], "3");
  EXPECT_EQ(g[1].j["text"], "with, comma and \"quotes\"");
  EXPECT_EQ(g[2].line, 4);
  EXPECT_EQ(g[2].j["text"], "two\nlines");
  EXPECT_EQ(g[3].line, 6);
  EXPECT_NE(g[3].error.find("2 fields where the header has 3"), std::string::npos) << g[3].error;
  EXPECT_NE(g[4].error.find("after a closing quote"), std::string::npos) << g[4].error;
  EXPECT_EQ(g[5].line, 8);
  EXPECT_EQ(g[5].j["id"], "6");
}

TEST(RecordReader, UnclosedQuoteAtEndIsABadRow) {
  ScratchDir d;
  const std::string p = d.file("a.csv");
  write_bytes(p, "id,text\n1,ok\n2,\"never closed\n3,x\n");
  const auto g = read_all(p);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1].line, 3);
  EXPECT_NE(g[1].error.find("not closed"), std::string::npos);
}

// Found by fuzz_records: a quoted column name that goes on over a second line with invalid UTF-8 there (the
// header's first line alone was checked). Every column name is checked now, like every cell.
TEST(RecordReader, HeaderNameSpanningLinesIsCheckedForUtf8) {
  ScratchDir d;
  write_bytes(d.file("a.csv"), "id,\"multi\nline \xe1\xa0 name\"\n1,x\n");
  EXPECT_TERN_ERROR(read_all(d.file("a.csv")), "a.csv", "header", "invalid UTF-8");
  write_bytes(d.file("b.csv"), "id,\"multi\nline name\"\n1,x\n");
  const auto g = read_all(d.file("b.csv"));
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].j["multi\nline name"], "x");
}

TEST(RecordReader, TsvAndTextAndSniffing) {
  ScratchDir d;
  write_bytes(d.file("a.tsv"), "label\ttext\n1\tsay \"hi\"\n");
  auto g = read_all(d.file("a.tsv"));
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].j["text"], "say \"hi\"");  // TSV: no quoting
  write_bytes(d.file("a.txt"), "first tweet\nsecond, with comma\n");
  g = read_all(d.file("a.txt"));
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1].j["text"], "second, with comma");
  // Unknown extension: '{' -> JSONL, else text.
  write_bytes(d.file("noext"), "{\"text\": \"j\"}\n");
  RecordReader r(d.file("noext"));
  Record rec;
  ASSERT_TRUE(r.next(rec));
  EXPECT_EQ(r.format(), InputFormat::Jsonl);
  write_bytes(d.file("noext2"), "plain words\n");
  RecordReader r2(d.file("noext2"));
  ASSERT_TRUE(r2.next(rec));
  EXPECT_EQ(r2.format(), InputFormat::Text);
}

TEST(RecordReader, GzipDetectedByMagicNotName) {
  ScratchDir d;
  const std::string body = "{\"text\": \"a\"}\n{\"text\": \"b\"}\n";
  write_bytes(d.file("a.jsonl"), gzip(body));  // compressed, but the name says .jsonl
  auto g = read_all(d.file("a.jsonl"));
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1].j["text"], "b");
  write_bytes(d.file("b.csv.gz"), gzip("text\nx\n"));
  g = read_all(d.file("b.csv.gz"));
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].j["text"], "x");
  // A damaged gzip stream is a read error naming the file, not a silent end.
  std::string z = gzip(std::string(5000, 'x') + "\n");
  z.resize(z.size() / 2);
  write_bytes(d.file("cut.txt.gz"), z);
  EXPECT_TERN_ERROR(read_all(d.file("cut.txt.gz")), "cut.txt.gz");
}

TEST(RecordReader, InvalidUtf8ErrorOrReplace) {
  ScratchDir d;
  write_bytes(d.file("a.jsonl"), "{\"text\": \"caf\xe9\"}\n{\"text\": \"ok\"}\n");
  auto g = read_all(d.file("a.jsonl"));
  ASSERT_EQ(g.size(), 2u);
  EXPECT_NE(g[0].error.find("invalid UTF-8"), std::string::npos) << g[0].error;
  EXPECT_TRUE(g[1].error.empty());
  ReaderOptions o;
  o.invalid_utf8 = InvalidUtf8::Replace;
  g = read_all(d.file("a.jsonl"), o);
  ASSERT_TRUE(g[0].error.empty()) << g[0].error;
  EXPECT_EQ(g[0].j["text"], "caf\xEF\xBF\xBD");
}

TEST(RecordReader, TranscodesWindows1252) {
  ScratchDir d;
  // 0x93 / 0x94: curly quotes in windows-1252; 0xe9: e-acute.
  write_bytes(d.file("a.csv"),
              "text\n\x93"
              "caf\xe9\x94\n");
  ReaderOptions o;
  o.encoding = "windows-1252";
  auto g = read_all(d.file("a.csv"), o);
  ASSERT_EQ(g.size(), 1u);
  ASSERT_TRUE(g[0].error.empty()) << g[0].error;
  EXPECT_EQ(g[0].j["text"],
            "\xE2\x80\x9C"
            "caf\xC3\xA9\xE2\x80\x9D");
  o.encoding = "no-such-encoding";
  EXPECT_TERN_ERROR(RecordReader(d.file("a.csv"), o), "no-such-encoding");
}

TEST(RecordReader, LongLineIsABadRowAndReadingGoesOn) {
  ScratchDir d;
  write_bytes(d.file("a.txt"), "short\n" + std::string(5000, 'x') + "\nafter\n");
  ReaderOptions o;
  o.max_line_bytes = 100;
  auto g = read_all(d.file("a.txt"), o);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_NE(g[1].error.find("longer than 100"), std::string::npos);
  EXPECT_EQ(g[2].line, 3);
  EXPECT_EQ(g[2].j["text"], "after");
}

TEST(RecordReader, MissingFileIsNamed) {
  EXPECT_TERN_ERROR(RecordReader("/nonexistent/x.jsonl"), "/nonexistent/x.jsonl");
}

TEST(LineWriter, ResumeCutsTornLineAndCounts) {
  ScratchDir d;
  const std::string p = d.file("o.jsonl");
  write_bytes(p, "a\nb\nhalf-writ");
  {
    LineWriter w(p, LineWriter::Mode::Resume);
    EXPECT_EQ(w.lines_at_open(), 2);
    w.write("c\n");
    EXPECT_EQ(w.lines(), 3);
    w.close();
  }
  EXPECT_EQ(read_bytes(p), "a\nb\nc\n");
  {
    LineWriter w(p, LineWriter::Mode::Truncate);
    EXPECT_EQ(w.lines_at_open(), 0);
    w.write("z\n");
    w.close();
  }
  EXPECT_EQ(read_bytes(p), "z\n");
}

TEST(LineWriter, WriteErrorKeepsCompleteLines) {
  // /dev/full: every write fails with ENOSPC; the error names the file.
  LineWriter w("/dev/full", LineWriter::Mode::Append);
  EXPECT_TERN_ERROR(w.write("x\n"), "/dev/full", "No space");
}

}  // namespace
}  // namespace tern::infer
