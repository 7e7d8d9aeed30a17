// `tern infer` end to end, as a user runs it, on the shipped default model (weights/models/sentiment.h5) and
// the committed sample archive (tests/data/sample): every input format, stdin -> stdout, several models in
// one pass, bad rows of each kind, a real kill -9 and --resume, input order under length-sorted batching, and
// --logits of a converted Hugging Face classifier against Hugging Face's own logits.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/util/test_util.h"
#include "weights/h5_arrays.h"

namespace tern {
namespace {

using json = nlohmann::json;
using test::read_bytes;
using test::run_shell;
using test::run_tern;
using test::ScratchDir;
using test::write_bytes;

const std::string kSample = "tests/data/sample/mayweather_sample.jsonl";
const std::string kDefault = "weights/models/sentiment.h5";

std::vector<json> jsonl(const std::string& text) {
  std::vector<json> out;
  size_t a = 0;
  while (a < text.size()) {
    const size_t b = text.find('\n', a);
    if (b == std::string::npos) break;
    out.push_back(json::parse(text.substr(a, b - a)));
    a = b + 1;
  }
  return out;
}

std::vector<json> sample_records() {
  return jsonl(read_bytes(kSample));
}

// The sample's texts on one line each (for the text / TSV variants).
std::vector<std::string> flat_texts() {
  std::vector<std::string> t;
  for (const auto& r : sample_records()) {
    std::string s = r["rawContent"].get<std::string>();
    for (char& c : s)
      if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    t.push_back(s);
  }
  return t;
}

void expect_same_prediction(const json& a, const json& b, const std::string& what) {
  EXPECT_EQ(a["label"], b["label"]) << what;
  for (const auto& [k, v] : a["probs"].items())
    EXPECT_NEAR(v.get<double>(), b["probs"][k].get<double>(), 1e-5) << what << " " << k;
}

class InferCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::fs::exists(kDefault)) << kDefault << " (the shipped default model) is missing";
  }
};

TEST_F(InferCli, SnscrapeSampleWithNoFlags) {
  ScratchDir d;
  const auto r = run_tern("infer " + kSample + " " + d.file("out.jsonl"), "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("40 rows, 0 bad rows"), std::string::npos) << r.out;
  const auto rows = jsonl(read_bytes(d.file("out.jsonl")));
  const auto in = sample_records();
  ASSERT_EQ(rows.size(), in.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["id"], in[i]["id"]);  // the snscrape id, as a number
    const std::string label = rows[i]["label"];
    EXPECT_TRUE(label == "negative" || label == "neutral" || label == "positive") << label;
    double s = 0;
    for (const auto& [k, v] : rows[i]["probs"].items()) s += v.get<double>();
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  // No errors file content for a clean archive.
  EXPECT_EQ(read_bytes(d.file("out.jsonl.errors.jsonl")), "");
}

TEST_F(InferCli, EveryInputFormatGivesTheSamePredictions) {
  ScratchDir d;
  const auto texts = flat_texts();
  std::string jl, csv = "id,text\n", tsv = "id\ttext\n", txt;
  for (size_t i = 0; i < texts.size(); ++i) {
    jl += json({{"id", static_cast<int>(i + 1)}, {"text", texts[i]}}).dump() + "\n";
    std::string q = texts[i];
    std::string quoted = "\"";
    for (char c : q) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += "\"";
    csv += std::to_string(i + 1) + "," + quoted + "\n";
    tsv += std::to_string(i + 1) + "\t" + texts[i] + "\n";
    txt += texts[i] + "\n";
  }
  write_bytes(d.file("a.jsonl"), jl);
  write_bytes(d.file("a.csv"), csv);
  write_bytes(d.file("a.tsv"), tsv);
  write_bytes(d.file("a.txt"), txt);
  ASSERT_EQ(run_shell("gzip -c " + d.file("a.jsonl") + " > " + d.file("gz.jsonl.gz")).code, 0);
  ASSERT_EQ(run_shell("gzip -c " + d.file("a.csv") + " > " + d.file("zipped_but_named.csv")).code, 0);
  auto run = [&](const std::string& args) {
    const auto r = run_tern("infer " + args + " -q", "", 60);
    EXPECT_EQ(r.code, 0) << args << "\n" << r.out;
    return jsonl(r.out);
  };
  const auto ref = run(d.file("a.jsonl") + " -");
  ASSERT_EQ(ref.size(), texts.size());
  for (const std::string& v : {d.file("a.csv") + " -", d.file("a.tsv") + " -", d.file("a.txt") + " -",
                               d.file("gz.jsonl.gz") + " -", d.file("zipped_but_named.csv") + " -"}) {
    const auto got = run(v);
    ASSERT_EQ(got.size(), ref.size()) << v;
    for (size_t i = 0; i < ref.size(); ++i) {
      expect_same_prediction(got[i], ref[i], v);
      // Text input has no id field: the 1-based line number is the id (here equal to the JSONL ids).
      EXPECT_EQ(got[i]["id"].dump(),
                v.find(".txt") != std::string::npos || v.find(".jsonl") != std::string::npos
                    ? ref[i]["id"].dump()
                    : json(std::to_string(i + 1)).dump());
    }
  }
  // stdin -> stdout.
  const auto r = run_shell("cat " + d.file("a.jsonl") + " | " + std::string(TERN_BIN) + " infer - - -q");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(jsonl(r.out).size(), ref.size());
}

TEST_F(InferCli, StdinToStdoutLeavesNoSideFiles) {
  ScratchDir d;
  const auto r = run_shell("cd " + d.path().string() + " && printf '{\"text\": \"good day\"}\\n{bad\\n' | " +
                           std::string(TERN_BIN) + " infer --model " + test::fs::absolute(kDefault).string() +
                           " - - 2>err.txt; echo rc=$?");
  EXPECT_NE(r.out.find("rc=3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"label\""), std::string::npos) << r.out;
  // Bad rows went to stderr; the only file is the one the shell made for stderr.
  EXPECT_NE(read_bytes(d.file("err.txt")).find("\"line\":2"), std::string::npos);
  size_t files = 0;
  for (const auto& e : test::fs::directory_iterator(d.path())) files += e.path().filename() != "err.txt";
  EXPECT_EQ(files, 0u);
}

TEST_F(InferCli, BadRowsOfEachKindGoToTheErrorsFile) {
  ScratchDir d;
  const std::string in = d.file("in.jsonl");
  write_bytes(in,
              "{\"id\": 1, \"text\": \"a fine day\"}\n"  // 1 ok
              "{\"id\": 2, \"text\": \"broken\"\n"       // 2 invalid JSON
              "{\"id\": 3, \"user\": \"x\"}\n"           // 3 no text field
              "{\"id\": 4, \"text\": null}\n"            // 4 null
              "{\"id\": 5, \"text\": 17}\n"              // 5 number
              "{\"id\": 6, \"text\": [\"a\"]}\n"         // 6 array
              "{\"id\": 7, \"text\": \"caf\xe9\"}\n"     // 7 invalid UTF-8
              "{\"id\": 8, \"text\": \"" +
                  std::string(300, 'y') +
                  "\"}\n"                                                 // 8 too long
                  "\n"                                                    // 9 empty
                  "{\"id\": 10, \"text\": \"the last one is good\"}\n");  // 10 ok
  const auto r = run_tern("infer " + in + " " + d.file("out.jsonl") + " --max-line-bytes 200 -q", "", 60);
  EXPECT_EQ(r.code, 3) << r.out;
  const auto rows = jsonl(read_bytes(d.file("out.jsonl")));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], 1);
  EXPECT_EQ(rows[1]["id"], 10);
  const auto errs = jsonl(read_bytes(d.file("out.jsonl.errors.jsonl")));
  ASSERT_EQ(errs.size(), 8u);
  const std::vector<std::pair<int, std::string>> want = {
      {2, "invalid JSON"},  {3, "no text field"},   {4, "null"},      {5, "number"}, {6, "array"},
      {7, "invalid UTF-8"}, {8, "longer than 200"}, {9, "empty line"}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(errs[i]["line"], want[i].first);
    EXPECT_NE(errs[i]["reason"].get<std::string>().find(want[i].second), std::string::npos) << errs[i].dump();
  }
  // The good rows are what a clean file gives.
  write_bytes(d.file("clean.jsonl"),
              "{\"id\": 1, \"text\": \"a fine day\"}\n{\"id\": 10, \"text\": \"the last one is good\"}\n");
  const auto c = run_tern("infer " + d.file("clean.jsonl") + " - -q", "", 60);
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(c.out, read_bytes(d.file("out.jsonl")));
  // --invalid-utf8 replace keeps row 7 (counted in the summary).
  const auto rep = run_tern(
      "infer " + in + " " + d.file("rep.jsonl") + " --max-line-bytes 200 --invalid-utf8 replace", "", 60);
  EXPECT_EQ(rep.code, 3);
  EXPECT_EQ(jsonl(read_bytes(d.file("rep.jsonl"))).size(), 3u);
  EXPECT_NE(rep.out.find("1 with invalid UTF-8 replaced"), std::string::npos) << rep.out;
}

// A real kill -9 of a running tern infer at several points, then --resume: the output and the errors file
// equal those of an uninterrupted run, byte for byte.
TEST_F(InferCli, KillNineThenResumeIsByteIdentical) {
  ScratchDir d;
  const auto recs = sample_records();
  std::string in;
  int64_t line = 0;
  for (int rep = 0; rep < 20; ++rep)
    for (size_t i = 0; i < recs.size(); ++i) {
      ++line;
      if (line % 137 == 0) {
        in += "{not json\n";  // planted bad rows
        continue;
      }
      json r = recs[i];
      r["id"] = line;
      in += r.dump() + "\n";
    }
  const std::string src = d.file("in.jsonl");
  write_bytes(src, in);
  const std::string common = " --window 64 --batch-size 8 --threads 1 -q";
  const auto clean = run_tern("infer " + src + " " + d.file("clean.jsonl") + common, "", 300);
  ASSERT_EQ(clean.code, 3) << clean.out;
  const std::string want = read_bytes(d.file("clean.jsonl"));
  const std::string want_err = read_bytes(d.file("clean.jsonl.errors.jsonl"));
  ASSERT_EQ(jsonl(want_err).size(), 5u);
  for (int kill_at : {50, 300, 600}) {
    const std::string out = d.file("k" + std::to_string(kill_at) + ".jsonl");
    // Start, wait until `kill_at` lines are committed, kill -9 (a torn last line is likely).
    const std::string cmd = std::string(TERN_BIN) + " infer " + src + " " + out + common + " & pid=$!; " +
                            "for i in $(seq 1 6000); do n=$(wc -l < " + out + " 2>/dev/null || echo 0); " +
                            "[ \"$n\" -ge " + std::to_string(kill_at) + " ] && break; sleep 0.01; done; " +
                            "kill -9 $pid; wait $pid; echo status=$?";
    const auto k = run_shell("bash -c '" + cmd + "'");
    ASSERT_NE(k.out.find("status=137"), std::string::npos)
        << "the run ended before the kill at " << kill_at << ": " << k.out;
    const std::string partial = read_bytes(out);
    ASSERT_LT(partial.size(), want.size());
    const auto res = run_tern("infer " + src + " " + out + common + " --resume", "", 300);
    EXPECT_EQ(res.code, 3) << res.out;
    EXPECT_TRUE(read_bytes(out) == want) << "output differs after kill at " << kill_at;
    EXPECT_EQ(read_bytes(out + ".errors.jsonl"), want_err) << "errors differ after kill at " << kill_at;
  }
}

// A damaged archive (a gzip stream cut short): exit 1 naming the file, and every row read before the damage
// is in the output, complete and equal to a clean run's.
TEST_F(InferCli, TruncatedGzipKeepsTheRowsBeforeTheDamage) {
  ScratchDir d;
  std::string body;
  for (int rep = 0; rep < 20; ++rep) body += read_bytes(kSample);
  write_bytes(d.file("all.jsonl"), body);
  ASSERT_EQ(run_shell("gzip -c " + d.file("all.jsonl") + " > " + d.file("all.jsonl.gz")).code, 0);
  const std::string z = read_bytes(d.file("all.jsonl.gz"));
  write_bytes(d.file("cut.jsonl.gz"), z.substr(0, z.size() * 6 / 10));
  const auto r =
      run_tern("infer " + d.file("cut.jsonl.gz") + " " + d.file("out.jsonl") + " -q --window 64", "", 120);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("cut.jsonl.gz"), std::string::npos) << r.out;
  const std::string got = read_bytes(d.file("out.jsonl"));
  const auto clean = run_tern("infer " + d.file("all.jsonl") + " - -q --window 64", "", 120);
  ASSERT_EQ(clean.code, 0);
  ASSERT_GT(got.size(), 0u);
  EXPECT_EQ(got, clean.out.substr(0, got.size()));
  EXPECT_EQ(got.back(), '\n');
  // Every complete line that the cut stream still holds (as zcat recovers them) became a row.
  const auto z2 = run_shell("zcat " + d.file("cut.jsonl.gz") + " 2>/dev/null | wc -l");
  const size_t recoverable = static_cast<size_t>(std::stoul(z2.out));
  EXPECT_GE(jsonl(got).size() + 1, recoverable);
  EXPECT_GT(jsonl(got).size(), 40u);
}

TEST_F(InferCli, OutputKeepsInputOrderUnderLengthSortedBatching) {
  ScratchDir d;
  const auto sorted = run_tern("infer " + kSample + " - -q --batch-size 8 --window 1000", "", 60);
  const auto single = run_tern("infer " + kSample + " - -q --batch-size 1 --window 1", "", 60);
  ASSERT_EQ(sorted.code, 0) << sorted.out;
  ASSERT_EQ(single.code, 0) << single.out;
  const auto a = jsonl(sorted.out), b = jsonl(single.out), in = sample_records();
  ASSERT_EQ(a.size(), in.size());
  ASSERT_EQ(b.size(), in.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["id"], in[i]["id"]);
    expect_same_prediction(a[i], b[i], "row " + std::to_string(i));
  }
}

TEST_F(InferCli, SeveralModelsInOnePassAndCsvOutput) {
  ScratchDir d;
  const std::string second = d.file("second.h5");
  ASSERT_EQ(run_tern("pack --model " + kDefault + " --out " + second + " --set name=sentiment_copy").code, 0);
  const auto r = run_tern(
      "infer " + kSample + " - -q --model sentiment --model " + second + " --keep-fields date,user.username",
      "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto single = jsonl(run_tern("infer " + kSample + " - -q", "", 60).out);
  const auto rows = jsonl(r.out);
  const auto in = sample_records();
  ASSERT_EQ(rows.size(), single.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_TRUE(rows[i].contains("sentiment") && rows[i].contains("sentiment_copy")) << rows[i].dump();
    expect_same_prediction(rows[i]["sentiment"], single[i], "model 1");
    expect_same_prediction(rows[i]["sentiment_copy"], single[i], "model 2");
    EXPECT_EQ(rows[i]["date"], in[i]["date"]);
    EXPECT_EQ(rows[i]["user.username"], in[i]["user"]["username"]);
  }
  // CSV by the output's extension: a header and one row per tweet.
  const auto c = run_tern("infer " + kSample + " " + d.file("o.csv") + " -q", "", 60);
  ASSERT_EQ(c.code, 0) << c.out;
  const std::string csv = read_bytes(d.file("o.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "id,label,prob_negative,prob_neutral,prob_positive");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 41);
}

TEST_F(InferCli, EmbeddingsFileInInputOrder) {
  ScratchDir d;
  const auto r = run_tern("infer " + kSample + " " + d.file("o.jsonl") +
                              " -q --embeddings mean --embeddings-out " + d.file("e.h5"),
                          "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  const TensorMap m = read_h5_arrays(d.file("e.h5"), std::vector<std::string>{"embeddings", "ids", "lines"});
  EXPECT_EQ(m.at("embeddings").shape(), (Shape{40, 256}));
  const auto in = sample_records();
  for (int64_t i = 0; i < 40; ++i) {
    EXPECT_EQ(m.at("ids").i64()[i], in[static_cast<size_t>(i)]["id"].get<int64_t>());
    EXPECT_EQ(m.at("lines").i64()[i], i + 1);
  }
}

// --embeddings cls takes the last layer's first-token-only path (PackedInput::first_token_only): its rows
// equal last_hidden_state[:, 0] of `tern forward` (the padded forward of every token, an independent path)
// on the ids `tern tokenize` gives for the same texts.
TEST_F(InferCli, ClsEmbeddingsEqualTheFullForwardsFirstToken) {
  ScratchDir d;
  std::string txt;
  for (const auto& t : flat_texts()) txt += t + "\n";
  write_bytes(d.file("t.txt"), txt);
  const auto a = run_tern("infer " + d.file("t.txt") + " " + d.file("o.jsonl") +
                              " -q --embeddings cls --embeddings-out " + d.file("e.h5"),
                          "", 60);
  ASSERT_EQ(a.code, 0) << a.out;
  const auto b = run_tern("tokenize --model weights/models/sentiment.h5 --input " + d.file("t.txt") +
                          " --output " + d.file("ids.jsonl"));
  ASSERT_EQ(b.code, 0) << b.out;
  const auto c = run_tern("forward --model " + std::string("weights/models/sentiment.h5") + " --input " +
                              d.file("ids.jsonl") + " --output " + d.file("f.h5"),
                          "", 60);
  ASSERT_EQ(c.code, 0) << c.out;
  const TensorMap e = read_h5_arrays(d.file("e.h5"), std::vector<std::string>{"embeddings"});
  const TensorMap f = read_h5_arrays(d.file("f.h5"), std::vector<std::string>{"last_hidden_state"});
  const Tensor& emb = e.at("embeddings");
  const Tensor& lhs = f.at("last_hidden_state");  // (40, T, 256)
  ASSERT_EQ(emb.shape(), (Shape{40, 256}));
  ASSERT_EQ(lhs.size(0), 40);
  const int64_t T = lhs.size(1), C = 256;
  float md = 0.f;
  for (int64_t i = 0; i < 40; ++i)
    for (int64_t k = 0; k < C; ++k)
      md = std::max(md, std::fabs(emb.f32()[i * C + k] - lhs.f32()[i * T * C + k]));
  EXPECT_LT(md, 1e-5f);
}

TEST_F(InferCli, HelpShowsDefaultsAndStrayArgumentsFail) {
  const auto h = run_tern("infer --help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--window"), std::string::npos);
  EXPECT_NE(h.out.find("4096"), std::string::npos) << h.out;
  const auto s = run_tern("infer " + kSample + " - extra-argument");
  EXPECT_NE(s.code, 0);
  const auto bad = run_tern("infer " + kSample + " - --model no-such-model");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("no-such-model"), std::string::npos) << bad.out;
}

// --logits of a Hugging Face classifier converted by tern equal Hugging Face's logits (the fixture's
// reference, made by transformers) on the fixture's four tweets, and tern forward's.
TEST(InferHf, LogitsOfAConvertedClassifierMatchHuggingFace) {
  const std::string fx = test::kShared + "/fixtures/real-vocab/bert_seqcls_single3";
  const std::string vocab = test::kShared + "/tokenizers/bert-base-uncased";
  if (!test::fs::exists(fx) || !test::fs::exists(vocab))
    GTEST_SKIP() << "needs ../shared (fixtures, tokenizers)";
  ScratchDir d;
  const std::string model = d.file("m.h5");
  ASSERT_EQ(run_tern("convert --from " + fx + " --tokenizer " + vocab + " --out " + model, "", 60).code, 0);
  const TensorMap ref =
      read_h5_arrays(fx + "/reference.h5",
                     std::vector<std::string>{"inputs/input_ids", "inputs/attention_mask", "outputs/logits"});
  const Tensor& ids = ref.at("inputs/input_ids");
  const Tensor& mask = ref.at("inputs/attention_mask");
  const Tensor& logits = ref.at("outputs/logits");
  const int64_t B = ids.shape()[0], T = ids.shape()[1], L = logits.shape()[1];
  // The fixture stores ids, not texts: rebuild each text from its word pieces (the vocab is lower-case), and
  // check below that tern tokenises it back into exactly the reference ids.
  std::vector<std::string> vocab_lines;
  {
    std::string v = read_bytes(vocab + "/vocab.txt");
    size_t a = 0;
    while (a < v.size()) {
      const size_t b = v.find('\n', a);
      vocab_lines.push_back(v.substr(a, b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
  }
  std::string in;
  for (int64_t b = 0; b < B; ++b) {
    std::string text;
    for (int64_t t = 1; t < T; ++t) {
      if (!mask.i64()[b * T + t]) break;
      const std::string& w = vocab_lines[static_cast<size_t>(ids.i64()[b * T + t])];
      if (w == "[SEP]") break;
      if (w.rfind("##", 0) == 0)
        text += w.substr(2);
      else
        text += (text.empty() ? "" : " ") + w;
    }
    in += json({{"id", b}, {"text", text}}).dump() + "\n";
  }
  write_bytes(d.file("in.jsonl"), in);
  const auto r = run_tern("infer " + d.file("in.jsonl") + " - -q --logits --model " + model, "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto rows = jsonl(r.out);
  ASSERT_EQ(rows.size(), static_cast<size_t>(B));
  // Same ids as the reference (so the logits compare like with like).
  std::string texts;
  for (const auto& l : jsonl(in)) texts += l["text"].get<std::string>() + "\n";
  write_bytes(d.file("texts.txt"), texts);
  const auto tk =
      run_tern("tokenize --model " + model + " --input " + d.file("texts.txt") + " --output -", "", 60);
  const auto toks = jsonl(tk.out);
  ASSERT_EQ(toks.size(), static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const auto& got = toks[static_cast<size_t>(b)]["ids"];
    for (int64_t t = 0; t < T && mask.i64()[b * T + t]; ++t)
      ASSERT_EQ(got[static_cast<size_t>(t)].get<int64_t>(), ids.i64()[b * T + t])
          << "text " << b << " token " << t;
  }
  double worst = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      worst = std::max(worst,
                       std::abs(rows[static_cast<size_t>(b)]["logits"][static_cast<size_t>(l)].get<double>() -
                                static_cast<double>(logits.f32()[b * L + l])));
  EXPECT_LT(worst, 1e-4) << "max |tern infer - HF| over the logits";
  std::printf("tern infer --logits vs Hugging Face: max |diff| %.3g over %lld x %lld logits\n", worst,
              static_cast<long long>(B), static_cast<long long>(L));
}

}  // namespace
}  // namespace tern
