#include "infer/predictor.h"
#include "infer/memory_trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>

#include <malloc.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "nn/config.h"
#include "nn/model.h"
#include "nn/multi_head.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer.h"
#include "weights/model_file.h"

#ifndef TERN_SOURCE_MODELS
#define TERN_SOURCE_MODELS ""
#endif
#ifndef TERN_INSTALL_MODELS
#define TERN_INSTALL_MODELS ""
#endif

namespace tern::infer {

using json = nlohmann::json;

Pool pool_from_name(const std::string& s) {
  if (s == "cls") return Pool::Cls;
  if (s == "mean") return Pool::Mean;
  if (s == "none" || s.empty()) return Pool::None;
  TERN_FAIL("unknown pooling '" << s << "' (cls or mean)");
}

const char* output_kind_name(OutputKind k) {
  switch (k) {
    case OutputKind::Single:
      return "single";
    case OutputKind::Multi:
      return "multi";
    case OutputKind::Regression:
      return "regression";
    case OutputKind::Encoder:
      return "encoder";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------------------
// Shipped models

namespace {

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string exe_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string p(buf, static_cast<size_t>(n));
  const size_t s = p.rfind('/');
  return s == std::string::npos ? "" : p.substr(0, s);
}

std::string stem(const std::string& path) {
  std::string b = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  if (b.size() > 3 && b.compare(b.size() - 3, 3, ".h5") == 0) b.resize(b.size() - 3);
  return b;
}

}  // namespace

std::vector<std::string> model_search_path() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("TERN_MODEL_PATH")) {
    std::string s = env;
    size_t a = 0;
    for (;;) {
      const size_t b = s.find(':', a);
      const std::string d = s.substr(a, b == std::string::npos ? std::string::npos : b - a);
      if (!d.empty()) dirs.push_back(d);
      if (b == std::string::npos) break;
      a = b + 1;
    }
  }
  // Next to an installed binary (<prefix>/bin/tern -> <prefix>/share/tern/models), the configured install
  // prefix, then the source tree (a binary or module run from the build tree).
  const std::string ed = exe_dir();
  if (!ed.empty()) dirs.push_back(ed + "/../share/tern/models");
  if (*TERN_INSTALL_MODELS) dirs.push_back(TERN_INSTALL_MODELS);
  if (*TERN_SOURCE_MODELS) dirs.push_back(TERN_SOURCE_MODELS);
  return dirs;
}

const char* default_model_name() {
  return "sentiment";
}

std::map<std::string, std::string> shipped_models() {
  std::map<std::string, std::string> out;
  for (const auto& d : model_search_path()) {
    if (!is_dir(d)) continue;
    for (const char* n :
         {"sentiment", "tweeteval-multi", "emotion", "hate", "irony", "offensive", "topics"}) {
      const std::string p = d + "/" + n + ".h5";
      if (!out.count(n) && is_file(p)) out[n] = p;
    }
  }
  return out;
}

std::string resolve_model(const std::string& name_or_path) {
  const std::string& n = name_or_path;
  if (n.find('/') != std::string::npos || (n.size() > 3 && n.compare(n.size() - 3, 3, ".h5") == 0) ||
      is_file(n)) {
    TERN_CHECK(is_file(n), n << ": no such model file");
    return n;
  }
  for (const auto& d : model_search_path()) {
    const std::string p = d + "/" + n + ".h5";
    if (is_file(p)) return p;
  }
  std::string have;
  for (const auto& [k, v] : shipped_models()) have += (have.empty() ? "" : ", ") + k;
  std::string where;
  for (const auto& d : model_search_path()) where += (where.empty() ? "" : ":") + d;
  TERN_FAIL("'" << n << "' is neither a model file nor a shipped model ("
                << (have.empty() ? std::string("none found") : "shipped: " + have) << "; searched " << where
                << ", set TERN_MODEL_PATH to add folders)");
}

// ---------------------------------------------------------------------------------------------------------
// InferModel

struct InferModel::Weights {
  ModelConfig cfg;
  std::shared_ptr<const LoadedModel> model;  // immutable, shared by every Predictor's runners
};

InferModel::~InferModel() = default;
int32_t InferModel::pad_id() const {
  return tok_->pad_id();
}

std::shared_ptr<const InferModel> InferModel::load(const std::string& name_or_path) {
  return load(name_or_path, Options());
}

std::shared_ptr<const InferModel> InferModel::load(const std::string& name_or_path, const Options& opt) {
  const std::string path = resolve_model(name_or_path);
#ifdef __GLIBC__
  // Blocks from 256 KiB up (activation buffers, tensors, per-thread scratch) come straight from mmap and go
  // back to the system when freed, instead of glibc's dynamic threshold (up to 32 MiB) keeping freed ones
  // resident in the heap: TweetEval sentiment test, default model, int8, 2 threads: peak RSS 137 -> 123 MB.
  static const bool mmap_threshold_set = [] { return mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1; }();
  (void)mmap_threshold_set;
#endif
  memory_trace("start");
  // float16 / bfloat16 tensors come as stored: binding converts them (same bits), except the word-embedding
  // table of a float16 file, which the prepared model keeps as float16 (half its memory; nn/model.h).
  LoadOptions lo;
  lo.to_f32 = false;
  ModelBundle bundle = load_model(path, lo);
  memory_trace("file read");
  auto w = std::make_shared<Weights>();
  w->cfg = parse_config(bundle.config_json, path + " (config)");
  const ModelConfig& cfg = w->cfg;

  std::shared_ptr<InferModel> m(new InferModel());
  ModelInfo& info = m->info_;
  info.path = path;
  info.metadata = bundle.metadata;
  auto md = [&](const char* k) -> std::string {
    auto it = bundle.metadata.find(k);
    return it == bundle.metadata.end() ? std::string() : it->second;
  };
  info.name = md("name").empty() ? stem(path) : md("name");
  info.hidden = cfg.hidden;
  json recipe;
  if (!md("training").empty()) {
    try {
      recipe = json::parse(md("training")).value("recipe", json::object());
    } catch (const std::exception&) {
      recipe = json::object();
    }
  }
  if (cfg.head != HeadKind::SequenceClassification) {
    info.kind = OutputKind::Encoder;
  } else if (cfg.problem_type == ProblemType::MultiLabel) {
    info.kind = OutputKind::Multi;
  } else if (cfg.problem_type == ProblemType::Regression) {
    info.kind = OutputKind::Regression;
  } else {
    info.kind = OutputKind::Single;
  }
  info.labels = cfg.labels;
  if (info.labels.size() != static_cast<size_t>(cfg.num_labels)) {
    info.labels.clear();
    for (int64_t i = 0; i < cfg.num_labels; ++i) info.labels.push_back("LABEL_" + std::to_string(i));
  }
  // Regression: the training recipe names the targets; the target scaling is undone on output.
  if (info.kind == OutputKind::Regression) {
    if (recipe.is_object() && recipe.contains("labels") && recipe["labels"].is_array() &&
        recipe["labels"].size() == static_cast<size_t>(cfg.num_labels))
      info.labels = recipe["labels"].get<std::vector<std::string>>();
    const std::string ts = md("target_scaling");
    if (!ts.empty()) {
      const json j = json::parse(ts);
      const std::string k = j.value("kind", "none");
      m->scale_kind_ = k == "log1p" ? 1 : k == "robust" ? 2 : 0;
      m->scale_center_ = j.value("center", std::vector<double>{});
      m->scale_scale_ = j.value("scale", std::vector<double>{});
      TERN_CHECK(m->scale_kind_ != 2 || (m->scale_center_.size() == static_cast<size_t>(cfg.num_labels) &&
                                         m->scale_scale_.size() == static_cast<size_t>(cfg.num_labels)),
                 path << ": metadata target_scaling does not match the " << cfg.num_labels << " targets");
    }
  }
  if (info.kind == OutputKind::Multi) {
    info.thresholds.assign(info.labels.size(), 0.5f);
    const std::string th = md("topic_thresholds");
    if (!th.empty()) {
      const json j = json::parse(th, nullptr, false);
      TERN_CHECK(j.is_object() && j.contains("per_class") && j["per_class"].is_object(),
                 path << ": metadata topic_thresholds has no per_class object");
      for (size_t i = 0; i < info.labels.size(); ++i) {
        const auto it = j["per_class"].find(info.labels[i]);
        TERN_CHECK(it != j["per_class"].end() && it->is_number(),
                   path << ": metadata topic_thresholds.per_class lacks label '" << info.labels[i] << "'");
        info.thresholds[i] = it->get<float>();
      }
    }
  }
  // Tokenisation as the model was trained: normalisation and length.
  bool norm = false;
  if (!md("normalize_tweets").empty())
    norm = md("normalize_tweets") == "true" || md("normalize_tweets") == "1";
  else if (recipe.is_object())
    norm = recipe.value("normalize_tweets", false);
  info.normalize_tweets = opt.normalize_tweets.value_or(norm);
  const int64_t positions =
      cfg.arch == Arch::Roberta ? cfg.max_positions - cfg.pad_token_id - 1 : cfg.max_positions;
  int64_t len = positions;
  if (!md("max_length").empty())
    len = std::atoll(md("max_length").c_str());
  else if (recipe.is_object() && recipe.contains("max_length"))
    len = recipe.value("max_length", positions);
  info.max_length = opt.max_length.value_or(len);
  TERN_CHECK(info.max_length >= 2 && info.max_length <= positions, path << ": max length " << info.max_length
                                                                        << " is outside [2, " << positions
                                                                        << "] (the model's positions)");

  TERN_CHECK(!bundle.tokenizer_files.empty(),
             path << ": the model file holds no tokenizer files (tern convert --tokenizer DIR adds them)");
  try {
    m->tok_ = std::make_shared<tok::Tokenizer>(tok::Tokenizer::from_files(bundle.tokenizer_files, path));
  } catch (const tok::TokenizerError& e) {
    TERN_FAIL(e.what());
  }
  std::string key;
  for (const auto& [k, v] : bundle.tokenizer_files)
    key += k + ":" + std::to_string(std::hash<std::string>{}(v)) + ";";
  key += info.normalize_tweets ? "norm;" : "raw;";
  key += std::to_string(info.max_length);
  m->tok_key_ = key;

  // Binding validates every tensor (a bad model fails here, naming it); the weights stay views of the file.
  // Multi-task model files: their extra heads too (nn/multi_head.h; none for other files).
  ModelOptions mo = multi_head_options(bundle.metadata, path);
  mo.precision = opt.precision.value_or(has_int8_weights(bundle) ? Precision::I8 : Precision::F32);
  mo.prepare_inference = true;
  // The tokenizer is built and keyed: the model need not keep a copy of the files' text (0.72 MB for the
  // default model's tokenizer.json, alive for the whole run otherwise).
  bundle.tokenizer_files.clear();
  w->model = LoadedModel::from_bundle(bundle, path, mo);
  memory_trace("model built");
  m->weights_ = w;
#ifdef __GLIBC__
  // The file's buffers and the parameters' float32 copies that preparing the weights freed sit in the
  // middle of the heap: give them back now, so they do not add to every later peak (BERT-base: ~300 MB).
  malloc_trim(0);
#endif
  memory_trace("malloc_trim");
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Predictor

struct Predictor::Runners {
  struct Worker {
    std::vector<ModelRunner> models;    // one per model
    std::vector<int64_t> ids, offsets;  // reused packed batch inputs
  };
  std::vector<Worker> workers;
};

Predictor::Predictor(std::vector<std::shared_ptr<const InferModel>> models, const PredictOptions& opt)
    : models_(std::move(models)), opt_(opt), runners_(std::make_unique<Runners>()) {
  TERN_CHECK(!models_.empty(), "no model given");
  TERN_CHECK(opt_.batch_size >= 1, "batch size must be >= 1, got " << opt_.batch_size);
  TERN_CHECK(opt_.batch_tokens >= 0, "batch tokens must be >= 0, got " << opt_.batch_tokens);
  TERN_CHECK(opt_.workers >= 0, "workers must be >= 0, got " << opt_.workers);
  std::vector<std::string> keys;
  for (size_t i = 0; i < models_.size(); ++i) {
    const auto& m = *models_[i];
    auto it = std::find(keys.begin(), keys.end(), m.tokenizer_key());
    if (it == keys.end()) {
      group_.push_back(keys.size());
      group_model_.push_back(i);
      keys.push_back(m.tokenizer_key());
    } else {
      group_.push_back(static_cast<size_t>(it - keys.begin()));
    }
    TERN_CHECK(m.info().kind != OutputKind::Encoder || opt_.pool != Pool::None,
               m.info().path << ": the model has no classification head (an encoder checkpoint): it can give "
                                "embeddings only");
  }
  const int nw = opt_.workers > 0 ? opt_.workers : std::max(1, num_threads());
  runners_->workers.resize(static_cast<size_t>(nw));
  for (auto& w : runners_->workers)
    for (const auto& m : models_) w.models.emplace_back(m->weights_->model);
}

Predictor::~Predictor() = default;

std::vector<Encoded> Predictor::encode(const std::vector<std::string>& texts) const {
  std::vector<Encoded> out;
  for (size_t g = 0; g < group_model_.size(); ++g) {
    const InferModel& m = *models_[group_model_[g]];
    out.push_back(encode_texts(m.tokenizer(), texts, m.info().max_length, m.info().normalize_tweets,
                               opt_.tokenize_threads));
  }
  return out;
}

std::vector<ModelResult> Predictor::run(const std::vector<Encoded>& enc) {
  std::vector<ModelResult> res(models_.size());
  std::vector<bool> done(models_.size(), false);
  for (size_t mi = 0; mi < models_.size(); ++mi) {
    if (done[mi]) continue;
    const InferModel& im = *models_[mi];
    const Encoded& e = enc[group_[mi]];
    const int64_t N = static_cast<int64_t>(e.size());
    const int64_t C = im.weights_->cfg.hidden;
    // Heads of one multi-task model (InferModel::load_heads: same weights, same tokens) come from this
    // model's encoder pass.
    std::vector<size_t> heads = {mi};
    for (size_t mk = mi + 1; mk < models_.size(); ++mk)
      if (models_[mk]->weights_ == im.weights_ && group_[mk] == group_[mi] && models_[mk]->head_ >= 0 &&
          im.head_ >= 0)
        heads.push_back(mk);
    for (size_t mk : heads) {
      done[mk] = true;
      if (models_[mk]->info().kind != OutputKind::Encoder)
        res[mk].logits.assign(static_cast<size_t>(N) * models_[mk]->info().labels.size(), 0.f);
    }
    ModelResult& r = res[mi];
    if (opt_.pool != Pool::None) r.embeddings.assign(static_cast<size_t>(N * C), 0.f);
    const std::vector<int64_t> order = length_order(e);
    // Batch bi = rows order[starts[bi] .. starts[bi + 1]) with batch_tokens[bi] tokens: up to batch_size
    // rows and opt_.batch_tokens tokens.
    const int64_t bs = opt_.batch_size;
    std::vector<int64_t> starts = {0}, batch_tokens;
    {
      int64_t t = 0;
      for (int64_t i = 0; i < N; ++i) {
        const int64_t len =
            std::max<int64_t>(1, static_cast<int64_t>(e.ids[static_cast<size_t>(order[i])].size()));
        const int64_t n = i - starts.back();
        if (n > 0 && (n >= bs || (opt_.batch_tokens > 0 && t + len > opt_.batch_tokens))) {
          starts.push_back(i);
          batch_tokens.push_back(t);
          t = 0;
        }
        t += len;
      }
      if (N > 0) {
        starts.push_back(N);
        batch_tokens.push_back(t);
      }
    }
    const int64_t batches = static_cast<int64_t>(starts.size()) - 1;
    // One packed batch of rows order[r0 .. r0 + n) on worker w; results to their input rows.
    auto run_batch = [&](Runners::Worker& w, int64_t bi) {
      const int64_t r0 = starts[bi], n = starts[bi + 1] - r0;
      pack_rows(e, order.data() + r0, n, w.ids, w.offsets);
      PackedInput in;
      in.ids = w.ids.data();
      in.offsets = w.offsets.data();
      in.B = n;
      // Mean pooling reads every token's final state; the heads and CLS pooling only the first token's.
      in.first_token_only = opt_.pool != Pool::Mean;
      const ModelOutputs o = w.models[mi].forward_packed(in);
      // (tokens, C), or (n, C) when the model computed the first tokens alone (the same rows when every
      // sequence is one token long)
      const float* hs = o.last_hidden_state.f32();
      const bool first_rows = o.last_hidden_state.size(0) != w.offsets[n];
      for (int64_t i = 0; i < n; ++i) {
        const int64_t row = order[r0 + i];
        for (size_t mk : heads) {
          const InferModel& hm = *models_[mk];
          if (hm.info().kind == OutputKind::Encoder) continue;
          const int64_t L = static_cast<int64_t>(hm.info().labels.size());
          const Tensor& z = hm.head_ < 0 ? o.logits : o.head_logits[static_cast<size_t>(hm.head_)];
          std::memcpy(&res[mk].logits[row * L], z.f32() + i * L, L * sizeof(float));
        }
        if (opt_.pool == Pool::Cls) {
          std::memcpy(&r.embeddings[row * C], hs + (first_rows ? i : w.offsets[i]) * C, C * sizeof(float));
        } else if (opt_.pool == Pool::Mean) {
          // Mean over the real tokens (special tokens included, as sentence-transformers' mean pooling).
          const int64_t t0 = w.offsets[i], len = w.offsets[i + 1] - t0;
          float* dst = &r.embeddings[row * C];
          for (int64_t c = 0; c < C; ++c) {
            double acc = 0.0;
            for (int64_t t = 0; t < len; ++t) acc += hs[(t0 + t) * C + c];
            dst[c] = static_cast<float>(acc / static_cast<double>(len));
          }
        }
      }
    };
    const int64_t nw = std::min<int64_t>(static_cast<int64_t>(runners_->workers.size()), batches);
    // Every worker's buffers sized once for this window's largest batch (rows are length-sorted, so the
    // batches grow one by one: growing the buffers with them would keep their 1.5x slack and the freed
    // smaller blocks in the peak RSS).
    int64_t max_tokens = 0, max_rows = 0;
    for (int64_t bi = 0; bi < batches; ++bi) {
      max_tokens = std::max(max_tokens, batch_tokens[static_cast<size_t>(bi)]);
      max_rows = std::max(max_rows, starts[bi + 1] - starts[bi]);
    }
    // The workers take batches largest first (by tokens), so that the window ends on small ones and no
    // worker idles long while another finishes a big one (a BERT-base batch of 256 tokens is ~0.4 s).
    // Results go to their input rows: the order changes nothing else.
    std::vector<int64_t> sched(static_cast<size_t>(batches));
    for (int64_t bi = 0; bi < batches; ++bi) sched[static_cast<size_t>(bi)] = bi;
    std::stable_sort(sched.begin(), sched.end(), [&](int64_t a, int64_t b) {
      return batch_tokens[static_cast<size_t>(a)] > batch_tokens[static_cast<size_t>(b)];
    });
    for (int64_t wi = 0; wi < std::max<int64_t>(nw, 1); ++wi) {
      Runners::Worker& w = runners_->workers[static_cast<size_t>(wi)];
      w.models[mi].reserve_packed(max_tokens, max_rows);
      w.ids.reserve(static_cast<size_t>(max_tokens));
      w.offsets.reserve(static_cast<size_t>(max_rows + 1));
    }
    if (nw <= 1) {
      for (int64_t bi = 0; bi < batches; ++bi) run_batch(runners_->workers[0], bi);
    } else {
      // Whole batches per thread; the kernels inside see an active parallel region and run serially.
      std::exception_ptr err;
#pragma omp parallel num_threads(static_cast <int>(nw))
      {
        Runners::Worker& w = runners_->workers[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
        for (int64_t j = 0; j < batches; ++j) {
          try {
            run_batch(w, sched[static_cast<size_t>(j)]);
          } catch (...) {
#pragma omp critical(tern_predict_error)
            if (!err) err = std::current_exception();
          }
        }
      }
      if (err) std::rethrow_exception(err);
    }
    // Regression: undo the training's target scaling.
    if (im.info().kind == OutputKind::Regression && im.scale_kind_ != 0) {
      const int64_t L = im.weights_->cfg.num_labels;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t c = 0; c < L; ++c) {
          float& y = r.logits[i * L + c];
          y = im.scale_kind_ == 1 ? static_cast<float>(std::expm1(static_cast<double>(y)))
                                  : static_cast<float>(y * im.scale_scale_[c] + im.scale_center_[c]);
        }
    }
  }
  return res;
}

std::vector<ModelResult> Predictor::predict(const std::vector<std::string>& texts) {
  return run(encode(texts));
}

// ---------------------------------------------------------------------------------------------------------
// Rows

std::vector<float> probabilities(const ModelInfo& m, const float* z) {
  const size_t L = m.labels.size();
  std::vector<float> p(L);
  if (m.kind == OutputKind::Single) {
    double mx = -INFINITY;
    for (size_t i = 0; i < L; ++i) mx = std::max(mx, static_cast<double>(z[i]));
    double s = 0;
    std::vector<double> e(L);
    for (size_t i = 0; i < L; ++i) s += e[i] = std::exp(static_cast<double>(z[i]) - mx);
    for (size_t i = 0; i < L; ++i) p[i] = static_cast<float>(e[i] / s);
  } else if (m.kind == OutputKind::Multi) {
    for (size_t i = 0; i < L; ++i)
      p[i] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(z[i]))));
  } else {
    for (size_t i = 0; i < L; ++i) p[i] = z[i];
  }
  return p;
}

void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_json_string(std::string& out, const std::string& s) {
  out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

void append_csv_cell(std::string& out, const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

namespace {
size_t argmax(const float* p, size_t n) {
  return static_cast<size_t>(std::max_element(p, p + n) - p);
}
// {"name": value, ...} in label order.
void append_named_floats(std::string& out, const std::vector<std::string>& names, const float* v) {
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, names[i]);
    out += ':';
    append_float(out, v[i]);
  }
  out += '}';
}
}  // namespace

void append_prediction_json(std::string& out, const ModelInfo& m, const float* z, bool with_logits) {
  const size_t L = m.labels.size();
  const std::vector<float> p = probabilities(m, z);
  if (m.kind == OutputKind::Single) {
    out += "\"label\":";
    append_json_string(out, m.labels[argmax(p.data(), L)]);
    out += ",\"probs\":";
    append_named_floats(out, m.labels, p.data());
  } else if (m.kind == OutputKind::Multi) {
    out += "\"labels\":[";
    bool first = true;
    for (size_t i = 0; i < L; ++i)
      if (p[i] >= (i < m.thresholds.size() ? m.thresholds[i] : 0.5f)) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, m.labels[i]);
      }
    out += "],\"probs\":";
    append_named_floats(out, m.labels, p.data());
  } else if (m.kind == OutputKind::Regression) {
    if (L == 1) {
      out += "\"value\":";
      append_float(out, z[0]);
    } else {
      out += "\"values\":";
      append_named_floats(out, m.labels, z);
    }
  }
  if (with_logits && m.kind != OutputKind::Encoder) {
    out += ",\"logits\":[";
    for (size_t i = 0; i < L; ++i) {
      if (i) out += ',';
      append_float(out, z[i]);
    }
    out += ']';
  }
}

std::vector<std::string> prediction_csv_columns(const ModelInfo& m, bool with_logits,
                                                const std::string& pre) {
  std::vector<std::string> c;
  if (m.kind == OutputKind::Single || m.kind == OutputKind::Multi) {
    c.push_back(pre + (m.kind == OutputKind::Single ? "label" : "labels"));
    for (const auto& l : m.labels) c.push_back(pre + "prob_" + l);
  } else if (m.kind == OutputKind::Regression) {
    if (m.labels.size() == 1)
      c.push_back(pre + "value");
    else
      for (const auto& l : m.labels) c.push_back(pre + "value_" + l);
  }
  if (with_logits && m.kind != OutputKind::Encoder)
    for (const auto& l : m.labels) c.push_back(pre + "logit_" + l);
  return c;
}

void append_prediction_csv(std::string& out, const ModelInfo& m, const float* z, bool with_logits) {
  const size_t L = m.labels.size();
  const std::vector<float> p = probabilities(m, z);
  bool first = true;
  auto sep = [&] {
    if (!first) out += ',';
    first = false;
  };
  if (m.kind == OutputKind::Single) {
    sep();
    append_csv_cell(out, m.labels[argmax(p.data(), L)]);
  } else if (m.kind == OutputKind::Multi) {
    std::string labs;
    for (size_t i = 0; i < L; ++i)
      if (p[i] >= (i < m.thresholds.size() ? m.thresholds[i] : 0.5f))
        labs += (labs.empty() ? "" : "|") + m.labels[i];
    sep();
    append_csv_cell(out, labs);
  }
  if (m.kind == OutputKind::Single || m.kind == OutputKind::Multi)
    for (size_t i = 0; i < L; ++i) sep(), append_float(out, p[i]);
  if (m.kind == OutputKind::Regression)
    for (size_t i = 0; i < L; ++i) sep(), append_float(out, z[i]);
  if (with_logits && m.kind != OutputKind::Encoder)
    for (size_t i = 0; i < L; ++i) sep(), append_float(out, z[i]);
}

}  // namespace tern::infer
