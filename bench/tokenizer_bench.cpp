// tokenizer_bench: tweets/s and tokens/s of tern's WordPiece (bert-base-uncased) and byte-level BPE
// (roberta-base) on the TweetEval sentiment test texts (12,284 tweets), one thread and all threads,
// against Hugging Face tokenizers 0.23.2 (Rust, official Node binding) measured in the same run.
//
//   tokenizer_bench [--runs N] [--shared DIR] [--no-peer]
//
// Validates first (ids of the first 300 gold texts of tests/data vs Hugging Face), warms up, reports the
// median of N runs. The peer needs `node` and the npm package (NODE_PATH, or /tmp/hftok/node_modules from
// `cd /tmp/hftok && npm install tokenizers@0.23.2`); without them only tern's figures are printed.
#include <omp.h>
#include <zlib.h>

#include <sys/stat.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

#ifndef TERN_SOURCE_DIR
#define TERN_SOURCE_DIR "."
#endif

namespace {

using Clock = std::chrono::steady_clock;

std::string read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(2);
  }
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

std::vector<std::string> lines_of(const std::string& all) {
  std::vector<std::string> v;
  size_t i = 0;
  while (i < all.size()) {
    size_t j = all.find('\n', i);
    if (j == std::string::npos) j = all.size();
    v.push_back(all.substr(i, j - i));
    i = j + 1;
  }
  return v;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Figures {
  double single_s = 0, batch_s = 0, reference_s = 0;
  size_t tokens = 0;
};

// Interleaved per run: one thread (fast paths and word caches, as shipped), the batch API, and one
// thread through the plain reference pipeline (EncodeOptions::use_fast_paths = false).
Figures time_tern(const tern::tok::Tokenizer& t, const std::vector<std::string>& texts, int runs) {
  Figures f;
  tern::tok::EncodeOptions ref;
  ref.use_fast_paths = false;
  // Warm-up (and the token count).
  for (const auto& s : texts) f.tokens += t.encode(s).size();
  t.encode_batch(texts);
  std::vector<double> single, batch, reference;
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    size_t n = 0;
    for (const auto& s : texts) n += t.encode(s).size();
    auto t1 = Clock::now();
    if (n != f.tokens) std::abort();
    single.push_back(std::chrono::duration<double>(t1 - t0).count());
    t0 = Clock::now();
    const auto b = t.encode_batch(texts);
    t1 = Clock::now();
    if (b.size() != texts.size()) std::abort();
    batch.push_back(std::chrono::duration<double>(t1 - t0).count());
    t0 = Clock::now();
    n = 0;
    for (const auto& s : texts) n += t.encode(s, ref).size();
    t1 = Clock::now();
    if (n != f.tokens) std::abort();
    reference.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  f.single_s = median(single);
  f.batch_s = median(batch);
  f.reference_s = median(reference);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 7;
  std::string shared = std::string(TERN_SOURCE_DIR) + "/../shared";
  bool peer = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--shared") && i + 1 < argc)
      shared = argv[++i];
    else if (!std::strcmp(argv[i], "--no-peer"))
      peer = false;
    else {
      std::fprintf(stderr, "usage: tokenizer_bench [--runs N] [--shared DIR] [--no-peer]\n");
      return 2;
    }
  }
  const std::string texts_path = shared + "/data/tweeteval/sentiment/test_text.txt.gz";
  std::vector<std::string> texts = lines_of(read_gz(texts_path));
  std::printf("texts: %zu tweets from %s\n", texts.size(), texts_path.c_str());

  struct Tok {
    const char* name;
    const char* dir;
    const char* gold_key;
  };
  const Tok toks[] = {{"bert-base-uncased (WordPiece)", "bert-base-uncased", "bert_uncased_ids"},
                      {"roberta-base (byte-level BPE)", "roberta-base", "roberta_ids"}};

  // Validate against the Hugging Face gold first.
  const auto gold =
      lines_of(read_gz(std::string(TERN_SOURCE_DIR) + "/tests/data/tokenizer/dev_full_sample.jsonl.gz"));
  std::vector<tern::tok::Tokenizer> loaded;
  for (const auto& t : toks) {
    loaded.push_back(tern::tok::Tokenizer::from_dir(shared + "/tokenizers/" + t.dir));
    size_t bad = 0, n = 0;
    for (size_t i = 0; i < gold.size() && n < 300; ++i, ++n) {
      if (gold[i].empty()) continue;
      const auto j = nlohmann::json::parse(gold[i]);
      const auto want = j[t.gold_key].get<std::vector<int32_t>>();
      bad += loaded.back().encode(j["text"].get<std::string>()).ids != want;
    }
    std::printf("validate %-32s %zu texts, %zu mismatches\n", t.name, n, bad);
    if (bad) return 1;
  }

  // The peer, in the same run.
  nlohmann::json peer_res;
  if (peer) {
    std::string node_path;
    if (const char* np = std::getenv("NODE_PATH")) node_path = np;
    if (node_path.empty() && exists("/tmp/hftok/node_modules/tokenizers"))
      node_path = "/tmp/hftok/node_modules";
    if (node_path.empty()) {
      std::printf("peer: Hugging Face tokenizers for Node not found (set NODE_PATH); skipped\n");
    } else {
      const std::string cmd = "NODE_PATH='" + node_path + "' node '" + TERN_SOURCE_DIR +
                              "/bench/hf_tokenizers_peer.js' '" + shared + "' " + std::to_string(runs);
      FILE* p = ::popen(cmd.c_str(), "r");
      std::string out;
      char buf[4096];
      size_t k;
      while (p && (k = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, k);
      const int rc = p ? ::pclose(p) : -1;
      try {
        if (rc == 0) peer_res = nlohmann::json::parse(out);
      } catch (...) {
      }
      if (peer_res.is_null())
        std::printf("peer: node run failed (rc %d): %s\n", rc, out.substr(0, 300).c_str());
    }
  }

  const int threads = omp_get_max_threads();
  std::printf("\nmedian of %d runs; 'batch' = encode_batch over all tweets with %d threads\n", runs, threads);
  std::printf("%-31s %-14s %12s %12s %10s\n", "tokenizer", "mode", "tweets/s", "tokens/s", "vs HF");
  for (size_t i = 0; i < loaded.size(); ++i) {
    const Figures f = time_tern(loaded[i], texts, runs);
    const double n = static_cast<double>(texts.size());
    const nlohmann::json* pr =
        peer_res.is_object() && peer_res.contains(toks[i].dir) ? &peer_res[toks[i].dir] : nullptr;
    auto row = [&](const char* mode, double secs, const char* peer_key) {
      char ratio[32] = "-";
      if (pr && pr->contains(peer_key))
        std::snprintf(ratio, sizeof ratio, "%.2fx", (*pr)[peer_key].get<double>() / secs);
      std::printf("%-31s %-14s %12.0f %12.0f %10s\n", toks[i].name, mode, n / secs, f.tokens / secs, ratio);
    };
    row("1 thread", f.single_s, "encode_s");
    row("batch", f.batch_s, "encode_batch_s");
    row("1 thr reference", f.reference_s, "encode_s");
    if (pr) {
      std::printf("%-31s %-14s %12.0f %12.0f\n", "  HF tokenizers 0.23.2 (Node)", "encode/tweet",
                  n / (*pr)["encode_s"].get<double>(), f.tokens / (*pr)["encode_s"].get<double>());
      std::printf("%-31s %-14s %12.0f %12.0f\n", "  HF tokenizers 0.23.2 (Node)", "encodeBatch",
                  n / (*pr)["encode_batch_s"].get<double>(),
                  f.tokens / (*pr)["encode_batch_s"].get<double>());
      if ((*pr)["tokens"].get<size_t>() != f.tokens)
        std::printf("  WARNING: HF counted %zu tokens, tern %zu\n", (*pr)["tokens"].get<size_t>(), f.tokens);
    }
  }
  std::printf(
      "\n'vs HF' = HF time / tern time (1 thread vs one HF encode call per tweet, Node overhead included;\n"
      "batch vs HF encodeBatch with its own thread pool). '1 thr reference' = tern's plain stage-by-stage\n"
      "pipeline (use_fast_paths = false: no one-pass fast path, no word cache), same ids.\n");
  return 0;
}
