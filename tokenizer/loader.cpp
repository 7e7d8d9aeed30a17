// Loading: tokenizer.json (tokenizers/src/tokenizer/serialization.rs and each component's serde form), or
// the raw vocab files with tokenizer_config.json / special_tokens_map.json (as transformers'
// BertTokenizer / RobertaTokenizer build their backend pipeline).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/pipeline.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace tern::tok {

using json = nlohmann::json;
using detail::fail;

namespace {

json parse_json(const std::string& text, const std::string& file) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    // parse_error carries "at line L, column C"; out_of_range.406 is a number too large (found by fuzzing).
    fail(file + ": invalid JSON: " + e.what());
  }
}

// Typed field access that names the file and the JSON path on any mismatch.
struct Ctx {
  const std::string& file;
  std::string path;
  Ctx at(const std::string& key) const { return {file, path.empty() ? key : path + "." + key}; }
  Ctx at(size_t i) const { return {file, path + "[" + std::to_string(i) + "]"}; }
  [[noreturn]] void error(const std::string& msg) const { fail(file + ": " + path + ": " + msg); }
};

const json* get(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& j, const char* key, bool fallback, const Ctx& c) {
  const json* v = get(j, key);
  if (!v) return fallback;
  if (!v->is_boolean()) c.at(key).error("expected true or false, got " + v->dump());
  return v->get<bool>();
}

std::string get_string(const json& j, const char* key, const std::string& fallback, const Ctx& c) {
  const json* v = get(j, key);
  if (!v) return fallback;
  if (!v->is_string()) c.at(key).error("expected a string, got " + v->dump().substr(0, 80));
  return v->get<std::string>();
}

int64_t get_int(const json& j, const char* key, int64_t fallback, const Ctx& c) {
  const json* v = get(j, key);
  if (!v) return fallback;
  if (!v->is_number_integer()) c.at(key).error("expected an integer, got " + v->dump().substr(0, 80));
  return v->get<int64_t>();
}

int32_t to_id(const json& v, const Ctx& c) {
  if (!v.is_number_integer()) c.error("expected a token id, got " + v.dump().substr(0, 80));
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id > 100000000) c.error("token id " + std::to_string(id) + " out of range");
  return static_cast<int32_t>(id);
}

std::string type_of(const json& j, const Ctx& c) {
  if (!j.is_object()) c.error("expected an object, got " + j.dump().substr(0, 80));
  return get_string(j, "type", "", c);
}

// json::parse with the big arrays streamed out instead of becoming DOM nodes (one allocation each): the
// object at `vocab_path` goes into `vocab` and the array at `merges_path` (if given) into `merges`; the DOM
// keeps an empty object / array there. Errors read as json::parse's and read_vocab_object's would.
class CaptureSax {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  CaptureSax(json& root, const std::string& file, std::vector<std::string> vocab_path, std::string vocab_ctx,
             detail::Vocab* vocab, std::vector<std::string> merges_path,
             std::vector<std::pair<std::string, std::string>>* merges)
      : dom_(root, true),
        file_(file),
        vocab_path_(std::move(vocab_path)),
        vocab_ctx_(std::move(vocab_ctx)),
        merges_path_(std::move(merges_path)),
        vocab_(vocab),
        merges_(merges) {}

  bool null() { return capturing() ? value("null") : dom_.null(); }
  bool boolean(bool b) { return capturing() ? value(b ? "true" : "false") : dom_.boolean(b); }
  bool number_integer(number_integer_t v) {
    if (mode_ == Mode::kVocab) return id(v);
    return capturing() ? value(std::to_string(v)) : dom_.number_integer(v);
  }
  bool number_unsigned(number_unsigned_t v) {
    if (mode_ == Mode::kVocab)
      return id(v > 1000000000ull ? int64_t{1000000001} : static_cast<int64_t>(v), v);
    return capturing() ? value(std::to_string(v)) : dom_.number_unsigned(v);
  }
  bool number_float(number_float_t v, const string_t& s) {
    return capturing() ? value(s) : dom_.number_float(v, s);
  }
  bool string(string_t& v) {
    if (mode_ == Mode::kMerges) {
      if (merge_depth_ == 0) {
        merges_->push_back(split_merge(v));
      } else {
        merge_parts_.push_back(std::move(v));
      }
      return true;
    }
    return capturing() ? value(json(v).dump()) : dom_.string(v);
  }
  bool binary(binary_t& v) { return capturing() ? value("binary") : dom_.binary(v); }
  bool start_object(std::size_t n) {
    const Match m = child_match();
    stack_.push_back(m);
    if (capturing()) return value("an object");
    if (vocab_ && m.v == static_cast<int>(vocab_path_.size())) {
      vocab_->clear();  // a repeated key: the last one wins, as in the DOM
      vocab_->reserve(32768);
      vocab_captured_ = true;
      mode_ = Mode::kVocab;
      capture_depth_ = stack_.size();
      return dom_.start_object(0);
    }
    return dom_.start_object(n);
  }
  bool key(string_t& k) {
    if (mode_ == Mode::kVocab) {
      key_ = std::move(k);
      return true;
    }
    if (capturing()) return value("a key");
    const Match m = stack_.back();
    auto next = [&](int at, const std::vector<std::string>& path) {
      return at >= 0 && static_cast<size_t>(at) < path.size() && k == path[at] ? at + 1 : -1;
    };
    pending_ = {next(m.v, vocab_path_), next(m.m, merges_path_)};
    return dom_.key(k);
  }
  bool end_object() {
    stack_.pop_back();
    pending_ = {};
    if (mode_ == Mode::kVocab && stack_.size() + 1 == capture_depth_) {
      mode_ = Mode::kNone;
      return dom_.end_object();
    }
    if (capturing()) return value("an object");
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    const Match m = child_match();
    stack_.push_back(m);
    if (mode_ == Mode::kMerges) {
      if (merge_depth_ > 0) return merge_error();
      merge_depth_ = 1;
      merge_parts_.clear();
      return true;
    }
    if (capturing()) return value("an array");
    if (merges_ && !merges_path_.empty() && m.m == static_cast<int>(merges_path_.size())) {
      merges_->clear();
      merges_captured_ = true;
      mode_ = Mode::kMerges;
      capture_depth_ = stack_.size();
      return dom_.start_array(0);
    }
    return dom_.start_array(n);
  }
  bool end_array() {
    stack_.pop_back();
    pending_ = {};
    if (mode_ == Mode::kMerges) {
      if (stack_.size() + 1 == capture_depth_) {
        mode_ = Mode::kNone;
        return dom_.end_array();
      }
      if (merge_parts_.size() != 2) return merge_error();
      merges_->emplace_back(std::move(merge_parts_[0]), std::move(merge_parts_[1]));
      merge_depth_ = 0;
      return true;
    }
    if (capturing()) return value("an array");
    return dom_.end_array();
  }
  bool vocab_captured() const { return vocab_captured_; }
  bool merges_captured() const { return merges_captured_; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    fail(file_ + ": invalid JSON: " + e.what());
  }

 private:
  enum class Mode { kNone, kVocab, kMerges };
  bool capturing() const { return mode_ != Mode::kNone; }
  // Path components matched (vocabulary path, merges path; -1 = off it) by a new container: the root
  // matches 0 of each, a value under a key that continues a path one more.
  struct Match {
    int v = -1, m = -1;
  };
  Match child_match() {
    if (stack_.empty()) return {0, 0};
    const Match m = pending_;
    pending_ = {};
    return m;
  }
  bool id(int64_t v, uint64_t shown = 0) {
    if (v < 0 || v > 100000000)
      fail(file_ + ": " + vocab_ctx_ + "." + key_ + ": token id " +
           (shown ? std::to_string(shown) : std::to_string(v)) + " out of range");
    (*vocab_)[key_] = static_cast<int32_t>(v);
    return true;
  }
  bool value(const std::string& what) {
    if (mode_ == Mode::kVocab)
      fail(file_ + ": " + vocab_ctx_ + "." + key_ + ": expected a token id, got " + what.substr(0, 80));
    return merge_error();
  }
  std::string merge_where() const {
    return file_ + ": " + merges_ctx() + "[" + std::to_string(merges_->size()) + "]";
  }
  std::string merges_ctx() const {
    std::string c;
    for (const auto& k : merges_path_) c += (c.empty() ? "" : ".") + k;
    return c;
  }
  bool merge_error() { fail(merge_where() + ": expected \"a b\" or [\"a\", \"b\"]"); }
  std::pair<std::string, std::string> split_merge(const std::string& line) {
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos || sp == 0 ||
        sp + 1 == line.size())
      fail(merge_where() + ": a merge must be two tokens separated by one space, got '" + line.substr(0, 80) +
           "'");
    return {line.substr(0, sp), line.substr(sp + 1)};
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const std::string& file_;
  std::vector<std::string> vocab_path_;
  std::string vocab_ctx_;
  std::vector<std::string> merges_path_;
  detail::Vocab* vocab_;
  std::vector<std::pair<std::string, std::string>>* merges_;
  std::vector<Match> stack_;  // per open container
  Match pending_;             // what the next value matches (set by key())
  Mode mode_ = Mode::kNone;
  bool vocab_captured_ = false, merges_captured_ = false;
  size_t capture_depth_ = 0;
  int merge_depth_ = 0;
  std::vector<std::string> merge_parts_;
  std::string key_;
};

// `*vocab_captured` / `*merges_captured`: whether the object / array was found there (else the DOM has
// whatever the path holds, for the usual checks to report).
json parse_capturing(const std::string& text, const std::string& file,
                     const std::vector<std::string>& vocab_path, const std::string& vocab_ctx,
                     detail::Vocab* vocab, bool* vocab_captured, const std::vector<std::string>& merges_path,
                     std::vector<std::pair<std::string, std::string>>* merges, bool* merges_captured) {
  json root;
  CaptureSax sax(root, file, vocab_path, vocab_ctx, vocab, merges_path, merges);
  try {
    json::sax_parse(text, &sax);
  } catch (const json::exception& e) {
    fail(file + ": invalid JSON: " + e.what());
  }
  *vocab_captured = sax.vocab_captured();
  if (merges_captured) *merges_captured = sax.merges_captured();
  return root;
}

detail::Vocab read_vocab_object(const json& v, const Ctx& c) {
  if (!v.is_object()) c.error("expected an object token -> id");
  detail::Vocab vocab;
  vocab.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) vocab[it.key()] = to_id(it.value(), c.at(it.key()));
  return vocab;
}

void add_normalizer(const json& j, const Ctx& c, std::vector<detail::NormalizerOp>& ops) {
  const std::string t = type_of(j, c);
  detail::NormalizerOp op;
  if (t == "BertNormalizer") {
    op.kind = detail::NormalizerOp::Kind::kBert;
    op.clean_text = get_bool(j, "clean_text", true, c);
    op.handle_chinese_chars = get_bool(j, "handle_chinese_chars", true, c);
    op.lowercase = get_bool(j, "lowercase", true, c);
    op.strip_accents = get_bool(j, "strip_accents", op.lowercase, c);  // null follows lowercase
    ops.push_back(op);
  } else if (t == "Lowercase") {
    op.kind = detail::NormalizerOp::Kind::kLowercase;
    ops.push_back(op);
  } else if (t == "NFD") {
    op.kind = detail::NormalizerOp::Kind::kNfd;
    ops.push_back(op);
  } else if (t == "StripAccents") {
    op.kind = detail::NormalizerOp::Kind::kStripAccents;
    ops.push_back(op);
  } else if (t == "Sequence") {
    const json* list = get(j, "normalizers");
    if (!list || !list->is_array()) c.at("normalizers").error("expected an array");
    for (size_t i = 0; i < list->size(); ++i) add_normalizer((*list)[i], c.at("normalizers").at(i), ops);
  } else {
    c.error("normalizer '" + t +
            "' is not supported (tern supports BertNormalizer, Lowercase, NFD, StripAccents, Sequence)");
  }
}

detail::PreTokenizerCfg read_pre_tokenizer(const json& j, const Ctx& c) {
  const std::string t = type_of(j, c);
  detail::PreTokenizerCfg p;
  if (t == "BertPreTokenizer") {
    p.kind = detail::PreTokenizerCfg::Kind::kBert;
  } else if (t == "ByteLevel") {
    p.kind = detail::PreTokenizerCfg::Kind::kByteLevel;
    p.add_prefix_space = get_bool(j, "add_prefix_space", true, c);
    p.use_regex = get_bool(j, "use_regex", true, c);
  } else if (t == "WhitespaceSplit") {
    p.kind = detail::PreTokenizerCfg::Kind::kWhitespaceSplit;
  } else if (t == "Sequence") {
    const json* list = get(j, "pretokenizers");
    if (!list || !list->is_array() || list->size() != 1)
      c.error("pre-tokenizer 'Sequence' is only supported with exactly one element");
    return read_pre_tokenizer((*list)[0], c.at("pretokenizers").at(size_t(0)));
  } else {
    c.error("pre-tokenizer '" + t +
            "' is not supported (tern supports BertPreTokenizer, ByteLevel, WhitespaceSplit)");
  }
  return p;
}

// Looks up a special token given as [token, id] (BertProcessing / RobertaProcessing).
int32_t special_pair(const json& j, const char* key, const Ctx& c) {
  const json* v = get(j, key);
  if (!v || !v->is_array() || v->size() != 2 || !(*v)[0].is_string()) c.at(key).error("expected [token, id]");
  return to_id((*v)[1], c.at(key).at(size_t(1)));
}

void read_template(const json& j, const Ctx& c, const json* specials,
                   std::vector<detail::TemplatePiece>& out) {
  if (!j.is_array()) c.error("expected an array of template pieces");
  for (size_t i = 0; i < j.size(); ++i) {
    const json& p = j[i];
    const Ctx ci = c.at(i);
    detail::TemplatePiece tp;
    if (const json* s = get(p, "SpecialToken")) {
      tp.special = true;
      const std::string id = get_string(*s, "id", "", ci.at("SpecialToken"));
      tp.type_id = static_cast<int32_t>(get_int(*s, "type_id", 0, ci.at("SpecialToken")));
      const json* sp = specials ? get(*specials, id.c_str()) : nullptr;
      if (!sp) ci.error("special token '" + id + "' is missing from post_processor.special_tokens");
      const json* ids = get(*sp, "ids");
      if (!ids || !ids->is_array()) ci.error("special token '" + id + "' has no ids");
      for (size_t k = 0; k < ids->size(); ++k) tp.ids.push_back(to_id((*ids)[k], ci));
    } else if (const json* s = get(p, "Sequence")) {
      const std::string id = get_string(*s, "id", "A", ci.at("Sequence"));
      if (id != "A" && id != "B") ci.error("sequence id must be A or B, got " + id);
      tp.seq = id == "A" ? 0 : 1;
      tp.type_id = static_cast<int32_t>(get_int(*s, "type_id", 0, ci.at("Sequence")));
    } else {
      ci.error("expected SpecialToken or Sequence");
    }
    out.push_back(std::move(tp));
  }
}

void read_post_processor(const json& j, const Ctx& c, detail::PostProcessor& post) {
  const std::string t = type_of(j, c);
  if (t == "TemplateProcessing") {
    const json* specials = get(j, "special_tokens");
    post.has_template = true;
    post.single.clear();
    post.pair.clear();
    const json* single = get(j, "single");
    const json* pair = get(j, "pair");
    if (!single || !pair) c.error("TemplateProcessing needs 'single' and 'pair'");
    read_template(*single, c.at("single"), specials, post.single);
    read_template(*pair, c.at("pair"), specials, post.pair);
  } else if (t == "BertProcessing" || t == "RobertaProcessing") {
    const int32_t cls = special_pair(j, "cls", c), sep = special_pair(j, "sep", c);
    using P = detail::TemplatePiece;
    post.has_template = true;
    if (t == "BertProcessing") {
      post.single = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0}};
      post.pair = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0}, P{false, {}, 1, 1},
                   P{true, {sep}, 0, 1}};
    } else {
      // processors/roberta.rs: <s> A </s> and <s> A </s> </s> B </s>, every type id 0.
      post.single = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0}};
      post.pair = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0},
                   P{true, {sep}, 0, 0}, P{false, {}, 1, 0}, P{true, {sep}, 0, 0}};
      post.zero_type_ids = true;
      post.trim_offsets = get_bool(j, "trim_offsets", true, c);
      post.trim_add_prefix_space = get_bool(j, "add_prefix_space", true, c);
    }
  } else if (t == "ByteLevel") {
    post.trim_offsets = get_bool(j, "trim_offsets", true, c);
    post.trim_add_prefix_space = get_bool(j, "add_prefix_space", true, c);
  } else if (t == "Sequence") {
    const json* list = get(j, "processors");
    if (!list || !list->is_array()) c.at("processors").error("expected an array");
    for (size_t i = 0; i < list->size(); ++i) read_post_processor((*list)[i], c.at("processors").at(i), post);
  } else {
    c.error("post-processor '" + t +
            "' is not supported (tern supports TemplateProcessing, BertProcessing, RobertaProcessing, "
            "ByteLevel, Sequence)");
  }
}

template <class Where>
std::pair<std::string, std::string> split_merge_line(const std::string& line, const Where& where) {
  const size_t sp = line.find(' ');
  if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos || sp == 0 ||
      sp + 1 == line.size())
    fail(where() + ": a merge must be two tokens separated by one space, got '" + line.substr(0, 80) + "'");
  return {line.substr(0, sp), line.substr(sp + 1)};
}

void load_tokenizer_json(Tokenizer::Impl& impl, const std::string& text, const std::string& file) {
  detail::Vocab captured_vocab;
  std::vector<std::pair<std::string, std::string>> captured_merges;
  bool have_vocab = false, have_merges = false;
  const json root = parse_capturing(text, file, {"model", "vocab"}, "model.vocab", &captured_vocab,
                                    &have_vocab, {"model", "merges"}, &captured_merges, &have_merges);
  const Ctx c{file, ""};
  if (!root.is_object()) c.error("expected a JSON object at the top level");
  const json* model = get(root, "model");
  if (!model) c.error("'model' is missing");
  const Ctx cm = c.at("model");
  std::string mtype = type_of(*model, cm);
  if (mtype.empty())
    mtype = get(*model, "merges") ? "BPE" : get(*model, "max_input_chars_per_word") ? "WordPiece" : "";
  const json* vocab = get(*model, "vocab");
  if (mtype == "WordPiece") {
    impl.model_type = "wordpiece";
    if (!vocab) cm.error("'vocab' is missing");
    impl.wordpiece.vocab = have_vocab ? std::move(captured_vocab) : read_vocab_object(*vocab, cm.at("vocab"));
    impl.wordpiece.unk_token = get_string(*model, "unk_token", "[UNK]", cm);
    impl.wordpiece.prefix = get_string(*model, "continuing_subword_prefix", "##", cm);
    const int64_t mx = get_int(*model, "max_input_chars_per_word", 100, cm);
    if (mx < 0) cm.at("max_input_chars_per_word").error("must be >= 0");
    impl.wordpiece.max_input_chars_per_word = static_cast<size_t>(mx);
  } else if (mtype == "BPE") {
    impl.model_type = "bpe";
    if (!vocab) cm.error("'vocab' is missing");
    impl.bpe.vocab = have_vocab ? std::move(captured_vocab) : read_vocab_object(*vocab, cm.at("vocab"));
    if (get(*model, "dropout")) cm.at("dropout").error("BPE dropout is not supported (it is random)");
    if (!get_string(*model, "continuing_subword_prefix", "", cm).empty())
      cm.at("continuing_subword_prefix").error("a BPE continuing_subword_prefix is not supported");
    if (!get_string(*model, "end_of_word_suffix", "", cm).empty())
      cm.at("end_of_word_suffix").error("a BPE end_of_word_suffix is not supported");
    if (get_bool(*model, "byte_fallback", false, cm))
      cm.at("byte_fallback").error("BPE byte_fallback is not supported");
    impl.bpe.fuse_unk = get_bool(*model, "fuse_unk", false, cm);
    impl.bpe.ignore_merges = get_bool(*model, "ignore_merges", false, cm);
    const std::string unk = get_string(*model, "unk_token", "", cm);
    if (!unk.empty()) {
      auto it = impl.bpe.vocab.find(unk);
      if (it == impl.bpe.vocab.end()) cm.at("unk_token").error("'" + unk + "' is not in the vocabulary");
      impl.bpe.unk_id = it->second;
    }
    const json* merges = get(*model, "merges");
    if (!merges || !merges->is_array()) cm.at("merges").error("expected an array");
    std::vector<std::pair<std::string, std::string>> pairs = std::move(captured_merges);
    auto where = [&](size_t i) { return file + ": model.merges[" + std::to_string(i) + "]"; };
    for (size_t i = 0; !have_merges && i < merges->size(); ++i) {
      const json& m = (*merges)[i];
      if (m.is_string()) {
        pairs.push_back(split_merge_line(m.get_ref<const std::string&>(), [&] { return where(i); }));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        pairs.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        fail(where(i) + ": expected \"a b\" or [\"a\", \"b\"]");
      }
    }
    impl.bpe.build(pairs, where);
  } else {
    cm.error("model '" + mtype + "' is not supported (tern supports WordPiece and BPE)");
  }

  impl.normalizer.clear();
  if (const json* n = get(root, "normalizer")) add_normalizer(*n, c.at("normalizer"), impl.normalizer);
  impl.pre.kind = detail::PreTokenizerCfg::Kind::kNone;
  if (const json* p = get(root, "pre_tokenizer")) impl.pre = read_pre_tokenizer(*p, c.at("pre_tokenizer"));
  if (impl.model_type == "bpe" && impl.pre.kind != detail::PreTokenizerCfg::Kind::kByteLevel)
    c.at("pre_tokenizer").error("a BPE model is only supported with the ByteLevel pre-tokenizer");
  if (const json* p = get(root, "post_processor")) read_post_processor(*p, c.at("post_processor"), impl.post);

  if (const json* added = get(root, "added_tokens")) {
    if (!added->is_array()) c.at("added_tokens").error("expected an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const json& a = (*added)[i];
      const Ctx ca = c.at("added_tokens").at(i);
      detail::AddedToken t;
      const json* id = get(a, "id");
      if (!id) ca.error("'id' is missing");
      t.id = to_id(*id, ca.at("id"));
      t.content = get_string(a, "content", "", ca);
      if (t.content.empty()) ca.error("'content' is missing or empty");
      t.single_word = get_bool(a, "single_word", false, ca);
      t.lstrip = get_bool(a, "lstrip", false, ca);
      t.rstrip = get_bool(a, "rstrip", false, ca);
      t.special = get_bool(a, "special", false, ca);
      t.normalized = get_bool(a, "normalized", !t.special, ca);
      impl.added.push_back(std::move(t));
    }
  }
  // HF ignores tokenizer.json's "truncation"/"padding" when transformers drives it; tern takes both from
  // EncodeOptions / PaddingOptions instead.
}

// A special token in tokenizer_config.json / special_tokens_map.json: "tok" or {"content": "tok", ...}.
struct SpecialSpec {
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false;
};

std::optional<SpecialSpec> read_special(const json* cfg, const char* key, const std::string& file) {
  const json* v = cfg ? get(*cfg, key) : nullptr;
  if (!v) return std::nullopt;
  const Ctx c{file, key};
  SpecialSpec s;
  if (v->is_string()) {
    s.content = v->get<std::string>();
  } else if (v->is_object()) {
    s.content = get_string(*v, "content", "", c);
    s.single_word = get_bool(*v, "single_word", false, c);
    s.lstrip = get_bool(*v, "lstrip", false, c);
    s.rstrip = get_bool(*v, "rstrip", false, c);
    s.normalized = get_bool(*v, "normalized", false, c);
  } else {
    c.error("expected a token string or object");
  }
  if (s.content.empty()) return std::nullopt;
  return s;
}

struct RawConfig {
  json config, special_map;  // null when absent
  std::string config_file, special_file;

  std::optional<SpecialSpec> special(const char* key) const {
    if (auto s = read_special(config.is_null() ? nullptr : &config, key, config_file)) return s;
    return read_special(special_map.is_null() ? nullptr : &special_map, key, special_file);
  }
  bool flag(const char* key, bool fallback) const {
    return config.is_null() ? fallback : get_bool(config, key, fallback, Ctx{config_file, ""});
  }
  const json* value(const char* key) const { return config.is_null() ? nullptr : get(config, key); }
};

// Adds the special tokens named in the configs (defaults in `names`) plus added_tokens_decoder entries.
void add_specials(Tokenizer::Impl& impl, const RawConfig& rc, const detail::Vocab& vocab,
                  const std::vector<std::pair<const char*, const char*>>& names,
                  const std::string& vocab_file) {
  auto add = [&](const detail::AddedToken& t) {
    for (auto& a : impl.added)
      if (a.content == t.content) return;
    impl.added.push_back(t);
  };
  // added_tokens_decoder: {"id": {"content": ..., "lstrip": ..., ...}} carries the exact flags.
  if (const json* dec = rc.value("added_tokens_decoder")) {
    if (!dec->is_object()) Ctx{rc.config_file, "added_tokens_decoder"}.error("expected an object");
    for (auto it = dec->begin(); it != dec->end(); ++it) {
      const Ctx c{rc.config_file, "added_tokens_decoder." + it.key()};
      detail::AddedToken t;
      try {
        t.id = std::stoi(it.key());
      } catch (...) {
        c.error("the key must be a token id");
      }
      t.content = get_string(it.value(), "content", "", c);
      if (t.content.empty()) c.error("'content' is missing");
      t.single_word = get_bool(it.value(), "single_word", false, c);
      t.lstrip = get_bool(it.value(), "lstrip", false, c);
      t.rstrip = get_bool(it.value(), "rstrip", false, c);
      t.special = get_bool(it.value(), "special", true, c);
      t.normalized = get_bool(it.value(), "normalized", !t.special, c);
      add(t);
    }
  }
  for (const auto& [key, fallback] : names) {
    SpecialSpec s;
    if (auto v = rc.special(key))
      s = *v;
    else
      s.content = fallback;
    auto it = vocab.find(s.content);
    if (it == vocab.end()) {
      if (rc.special(key))
        fail(vocab_file + ": the " + std::string(key) + " '" + s.content + "' is not in the vocabulary");
      continue;  // a default that this vocabulary does not have
    }
    detail::AddedToken t;
    t.content = s.content;
    t.id = it->second;
    t.single_word = s.single_word;
    t.lstrip = s.lstrip;
    t.rstrip = s.rstrip;
    t.normalized = s.normalized;
    t.special = true;
    add(t);
  }
}

int32_t vocab_id(const detail::Vocab& v, const std::string& tok, const std::string& what,
                 const std::string& file) {
  auto it = v.find(tok);
  if (it == v.end()) fail(file + ": the " + what + " '" + tok + "' is not in the vocabulary");
  return it->second;
}

std::string special_content(const RawConfig& rc, const char* key, const char* fallback) {
  auto s = rc.special(key);
  return s ? s->content : std::string(fallback);
}

void load_wordpiece_files(Tokenizer::Impl& impl, const std::string& vocab_txt, const std::string& file,
                          const RawConfig& rc) {
  impl.model_type = "wordpiece";
  // models/wordpiece/mod.rs WordPiece::read_file: one token per line, trailing whitespace trimmed, id = line.
  std::istringstream in(vocab_txt);
  std::string line;
  int32_t index = 0;
  auto& vocab = impl.wordpiece.vocab;
  while (std::getline(in, line)) {
    size_t end = line.size();
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r')) --end;
    line.resize(end);
    vocab[line] = index++;
  }
  if (vocab.empty()) fail(file + ": the vocabulary is empty");
  impl.wordpiece.unk_token = special_content(rc, "unk_token", "[UNK]");
  vocab_id(vocab, impl.wordpiece.unk_token, "unk_token", file);

  detail::NormalizerOp op;
  op.kind = detail::NormalizerOp::Kind::kBert;
  op.lowercase = rc.flag("do_lower_case", true);
  op.handle_chinese_chars = rc.flag("tokenize_chinese_chars", true);
  op.strip_accents = rc.flag("strip_accents", op.lowercase);
  impl.normalizer = {op};
  impl.pre.kind = detail::PreTokenizerCfg::Kind::kBert;

  const int32_t cls = vocab_id(vocab, special_content(rc, "cls_token", "[CLS]"), "cls_token", file);
  const int32_t sep = vocab_id(vocab, special_content(rc, "sep_token", "[SEP]"), "sep_token", file);
  using P = detail::TemplatePiece;
  impl.post.has_template = true;
  impl.post.single = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0}};
  impl.post.pair = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0}, P{false, {}, 1, 1},
                    P{true, {sep}, 0, 1}};
  add_specials(impl, rc, vocab,
               {{"unk_token", "[UNK]"},
                {"sep_token", "[SEP]"},
                {"pad_token", "[PAD]"},
                {"cls_token", "[CLS]"},
                {"mask_token", "[MASK]"}},
               file);
}

void load_bpe_files(Tokenizer::Impl& impl, const std::string& vocab_json, const std::string& merges_txt,
                    const std::string& vfile, const std::string& mfile, const RawConfig& rc) {
  impl.model_type = "bpe";
  bool have_vocab = false;
  detail::Vocab captured;
  const json vj =
      parse_capturing(vocab_json, vfile, {}, "(top level)", &captured, &have_vocab, {}, nullptr, nullptr);
  impl.bpe.vocab = have_vocab ? std::move(captured) : read_vocab_object(vj, Ctx{vfile, "(top level)"});
  // models/bpe/model.rs BPE::read_file: "#version" lines skipped, each other line "left right".
  std::vector<std::pair<std::string, std::string>> pairs;
  std::vector<size_t> linenos;
  std::istringstream in(merges_txt);
  std::string line;
  size_t lineno = 0;
  auto where_line = [&](size_t n) { return mfile + " line " + std::to_string(n); };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#version", 0) == 0 || line.empty()) continue;
    pairs.push_back(split_merge_line(line, [&] { return where_line(lineno); }));
    linenos.push_back(lineno);
  }
  impl.bpe.build(pairs, [&](size_t i) { return where_line(linenos[i]); });

  const bool add_prefix_space = rc.flag("add_prefix_space", false);
  const bool trim = rc.flag("trim_offsets", true);
  impl.pre.kind = detail::PreTokenizerCfg::Kind::kByteLevel;
  impl.pre.add_prefix_space = add_prefix_space;
  impl.pre.use_regex = true;
  std::string cls_name;
  if (const json* c = rc.value("tokenizer_class"); c && c->is_string()) cls_name = c->get<std::string>();
  const bool gpt2 = cls_name.rfind("GPT2", 0) == 0;
  impl.post.trim_offsets = trim;
  impl.post.trim_add_prefix_space = add_prefix_space;
  if (gpt2) {
    add_specials(impl, rc, impl.bpe.vocab,
                 {{"bos_token", "<|endoftext|>"},
                  {"eos_token", "<|endoftext|>"},
                  {"unk_token", "<|endoftext|>"},
                  {"pad_token", ""}},
                 vfile);
  } else {
    const int32_t cls = vocab_id(impl.bpe.vocab, special_content(rc, "cls_token", "<s>"), "cls_token", vfile);
    const int32_t sep =
        vocab_id(impl.bpe.vocab, special_content(rc, "sep_token", "</s>"), "sep_token", vfile);
    using P = detail::TemplatePiece;
    impl.post.has_template = true;
    impl.post.single = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0}};
    impl.post.pair = {P{true, {cls}, 0, 0}, P{false, {}, 0, 0}, P{true, {sep}, 0, 0},
                      P{true, {sep}, 0, 0}, P{false, {}, 1, 0}, P{true, {sep}, 0, 0}};
    impl.post.zero_type_ids = true;
    // Transformers v5 builds RoBERTa's added tokens with lstrip = false for <mask> unless the config
    // says otherwise (meta.json of the gold: " <mask>" keeps the space token).
    add_specials(impl, rc, impl.bpe.vocab,
                 {{"bos_token", "<s>"},
                  {"pad_token", "<pad>"},
                  {"eos_token", "</s>"},
                  {"unk_token", "<unk>"},
                  {"sep_token", "</s>"},
                  {"cls_token", "<s>"},
                  {"mask_token", "<mask>"}},
                 vfile);
  }
}

}  // namespace

Tokenizer Tokenizer::from_files(const std::map<std::string, std::string>& files, const std::string& origin) {
  auto impl = std::make_shared<Impl>();
  impl->origin = origin;
  auto name = [&](const std::string& f) { return origin.empty() ? f : origin + "/" + f; };
  auto find = [&](const char* f) -> const std::string* {
    auto it = files.find(f);
    return it == files.end() ? nullptr : &it->second;
  };
  if (const std::string* tj = find("tokenizer.json")) {
    load_tokenizer_json(*impl, *tj, name("tokenizer.json"));
  } else {
    RawConfig rc;
    rc.config_file = name("tokenizer_config.json");
    rc.special_file = name("special_tokens_map.json");
    if (const std::string* c = find("tokenizer_config.json")) rc.config = parse_json(*c, rc.config_file);
    if (const std::string* s = find("special_tokens_map.json"))
      rc.special_map = parse_json(*s, rc.special_file);
    if (!rc.config.is_null() && !rc.config.is_object()) fail(rc.config_file + ": expected a JSON object");
    if (!rc.special_map.is_null() && !rc.special_map.is_object())
      fail(rc.special_file + ": expected a JSON object");
    const std::string* vt = find("vocab.txt");
    const std::string* vj = find("vocab.json");
    const std::string* mt = find("merges.txt");
    if (vt) {
      load_wordpiece_files(*impl, *vt, name("vocab.txt"), rc);
    } else if (vj && mt) {
      load_bpe_files(*impl, *vj, *mt, name("vocab.json"), name("merges.txt"), rc);
    } else {
      std::string have;
      for (const auto& [k, v] : files) have += (have.empty() ? "" : ", ") + k;
      fail((origin.empty() ? std::string("tokenizer") : origin) +
           ": no tokenizer found: need tokenizer.json, vocab.txt, or vocab.json + merges.txt (have: " +
           (have.empty() ? "nothing" : have) + ")");
    }
  }
  // The padding id: the added/vocab token named like a pad token.
  impl->pad_id = 0;
  for (const char* p : {"[PAD]", "<pad>", "<|endoftext|>"}) {
    const detail::Vocab& v = impl->model_type == "wordpiece" ? impl->wordpiece.vocab : impl->bpe.vocab;
    auto it = v.find(p);
    if (it != v.end()) {
      impl->pad_id = it->second;
      break;
    }
  }
  impl->finalize();
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir + ": not a directory");
  std::map<std::string, std::string> files;
  for (const char* f : {"vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json"}) {
    const fs::path p = fs::path(dir) / f;
    if (!fs::exists(p, ec)) continue;
    std::ifstream in(p, std::ios::binary);
    if (!in) fail(p.string() + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    files[f] = ss.str();
  }
  return from_files(files, dir);
}

}  // namespace tern::tok
