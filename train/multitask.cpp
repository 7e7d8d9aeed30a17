#include "train/multitask.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "nn/config.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer.h"
#include "train/losses.h"
#include "train/model_loss.h"
#include "train/optim.h"
#include "train/trainer.h"

namespace tern::train {

using nlohmann::json;

namespace {

// splitmix64: the sampler's and the shuffles' stream (deterministic for a seed).
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

std::string encoder_architecture(Arch a) {
  switch (a) {
    case Arch::Bert:
      return "BertModel";
    case Arch::Roberta:
      return "RobertaModel";
    case Arch::DistilBert:
      return "DistilBertModel";
  }
  return "";
}

// The checkpoint's config.json as a bare encoder's: no head of its own (the heads are extra heads).
std::string encoder_config(const std::string& text, Arch arch) {
  json j = json::parse(text);
  j["architectures"] = json::array({encoder_architecture(arch)});
  for (const char* k : {"id2label", "label2id", "num_labels", "problem_type"}) j.erase(k);
  return j.dump(2);
}

}  // namespace

struct MultiTaskTrainer::State {
  MultiTaskOptions o;
  std::vector<MultiTaskHead> heads;
  std::vector<MultiHeadInfo> infos;
  ModelBundle bundle;  // tokenizer files and metadata of the encoder checkpoint (tensors consumed)
  std::string cfg_json;
  std::unique_ptr<Model> model;
  std::unique_ptr<tok::Tokenizer> tk;
  Encoded enc;                  // every head's training texts, head after head
  std::vector<int64_t> offset;  // first row of head k in enc
  ParamArena* arena = nullptr;
  std::unique_ptr<AdamW> adam;
  LinearSchedule sched;
  Dropout drop;
  std::vector<std::vector<bool>> head_slices;  // per head: arena slices that belong to it
  std::vector<bool> encoder_slices;            // slices of no head (embeddings, layers, pooler)
  int64_t step = 0;
  SplitMix rng{0};
  std::vector<std::vector<int64_t>> order;  // per head: its shuffled rows
  std::vector<size_t> cursor;               // per head: next position in order
  std::vector<int64_t> passes;              // per head: reshuffles so far
  json recipe;
};

MultiTaskTrainer::MultiTaskTrainer(MultiTaskOptions o, std::vector<MultiTaskHead> heads)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.o = std::move(o);
  s.heads = std::move(heads);
  const MultiTaskOptions& c = s.o;
  TERN_CHECK(!s.heads.empty(), "multi-task training: no tasks");
  TERN_CHECK(c.batch_size >= 1 && c.steps >= 1 && c.max_length >= 2 && c.lr > 0 && c.warmup_fraction >= 0,
             "multi-task training: batch_size, steps >= 1, max_length >= 2, lr > 0, warmup >= 0 needed");
  for (const auto& h : s.heads) {
    TERN_CHECK(h.labels.size() >= 2, "task " << h.name << ": a single-label task needs at least 2 labels");
    TERN_CHECK(h.train.size() > 0 && h.train.width == 1,
               "task " << h.name << ": needs single-label training rows");
    TERN_CHECK(h.sampling_weight >= 0 && h.loss_weight >= 0,
               "task " << h.name << ": sampling and loss weights must be >= 0");
    s.infos.push_back({h.name, h.labels, ProblemType::SingleLabel});
  }
  // Model: the encoder + one head per task (missing parameters initialised as HF does, from the seed).
  s.bundle = load_model(c.model_path);
  ModelConfig base = parse_config(s.bundle.config_json, c.model_path + " (config)");
  const ConfigExtras extras = config_extras(s.bundle.config_json, base.arch);
  s.cfg_json = encoder_config(s.bundle.config_json, base.arch);
  ModelConfig mc = parse_config(s.cfg_json, c.model_path + " (encoder config)");
  // A classifier the checkpoint has is not one of ours: dropped (heads are named per task).
  for (auto it = s.bundle.tensors.begin(); it != s.bundle.tensors.end();)
    it = it->first.rfind("classifier.", 0) == 0 || it->first.rfind("pre_classifier.", 0) == 0
             ? s.bundle.tensors.erase(it)
             : std::next(it);
  ModelOptions mo;
  mo.bind.init_missing = true;
  mo.bind.seed = c.seed;
  mo.bind.init_std = extras.initializer_range;
  mo.extra_heads = head_specs(s.infos);
  s.model = std::make_unique<Model>(mc, std::move(s.bundle.tensors), c.model_path, mo);
  s.bundle.tensors.clear();
  s.tk = std::make_unique<tok::Tokenizer>(tok::Tokenizer::from_files(s.bundle.tokenizer_files, c.model_path));

  // Data: one Encoded of all heads' texts.
  for (const auto& h : s.heads) {
    s.offset.push_back(static_cast<int64_t>(s.enc.size()));
    Encoded e = encode_texts(*s.tk, h.train.texts, c.max_length, c.normalize_tweets);
    s.enc.pad_id = e.pad_id;
    for (auto& ids : e.ids) s.enc.ids.push_back(std::move(ids));
  }

  // Optimiser: AdamW over everything; a head's slices step only when its task is in the batch.
  s.arena = &s.model->pack();
  const auto& lheads = s.model->loaded()->heads();
  TERN_CHECK(lheads.size() == s.heads.size(),
             "multi-task model: " << lheads.size() << " heads for " << s.heads.size() << " tasks");
  s.head_slices.assign(s.heads.size(), std::vector<bool>(s.arena->slices.size(), false));
  s.encoder_slices.assign(s.arena->slices.size(), true);
  for (size_t i = 0; i < s.arena->slices.size(); ++i) {
    const std::string& n = s.arena->slices[i].param->name;
    for (size_t k = 0; k < s.heads.size(); ++k)
      if (n.rfind(s.heads[k].name + ".", 0) == 0) {
        s.head_slices[k][i] = true;
        s.encoder_slices[i] = false;
      }
  }
  AdamWOptions ao;
  ao.weight_decay = c.weight_decay;
  ao.exclude_no_decay = c.no_decay_bias_ln;
  s.adam = std::make_unique<AdamW>(*s.arena, ao);
  const int64_t warmup = static_cast<int64_t>(std::ceil(c.steps * c.warmup_fraction));
  s.sched = LinearSchedule{c.lr, warmup, c.steps};
  if (c.dropout) {
    s.drop.hidden = s.drop.attention = s.drop.classifier = *c.dropout;
  } else {
    s.drop.hidden = extras.hidden_dropout;
    s.drop.attention = extras.attention_dropout;
    s.drop.classifier = extras.classifier_dropout;
  }
  s.drop.seed = c.seed;
  s.rng.s = c.seed * 0x9E3779B97F4A7C15ull + 0x5851F42D4C957F2Dull;
  s.order.resize(s.heads.size());
  s.cursor.assign(s.heads.size(), 0);
  s.passes.assign(s.heads.size(), 0);

  json tasks = json::array();
  for (const auto& h : s.heads)
    tasks.push_back({{"name", h.name},
                     {"labels", h.labels},
                     {"train", h.train.source},
                     {"rows", h.train.size()},
                     {"sampling_weight", h.sampling_weight},
                     {"loss_weight", h.loss_weight}});
  s.recipe = {
      {"model", c.model_path},
      {"task", "multi-task single-label classification, one head per task"},
      {"tasks", tasks},
      {"sampling", "each batch from one task, drawn with probability sampling_weight / sum (splitmix64)"},
      {"max_length", c.max_length},
      {"batch_size", c.batch_size},
      {"steps", c.steps},
      {"lr", c.lr},
      {"warmup_steps", warmup},
      {"schedule", "linear warm-up then linear decay to 0 (HF get_linear_schedule_with_warmup)"},
      {"optimizer",
       {{"name", "AdamW (a head steps only with its task in the batch)"},
        {"weight_decay", c.weight_decay},
        {"no_decay_bias_ln", c.no_decay_bias_ln}}},
      {"clip_grad_norm", c.clip},
      {"dropout",
       {{"hidden", s.drop.hidden}, {"attention", s.drop.attention}, {"classifier", s.drop.classifier}}},
      {"normalize_tweets", c.normalize_tweets},
      {"seed", c.seed},
      {"threads", num_threads()},
      {"command", c.command_line}};
}

MultiTaskTrainer::~MultiTaskTrainer() = default;

double MultiTaskTrainer::step(const std::vector<TaskRow>& batch) {
  State& s = *s_;
  TERN_CHECK(!batch.empty(), "multi-task step: empty batch");
  const int64_t B = static_cast<int64_t>(batch.size());
  const size_t H = s.heads.size();
  std::vector<int64_t> rows(B), per_head(H, 0);
  for (int64_t i = 0; i < B; ++i) {
    const TaskRow& r = batch[i];
    TERN_CHECK(r.head < H && r.row >= 0 && r.row < static_cast<int64_t>(s.heads[r.head].train.size()),
               "multi-task step: row " << r.row << " of head " << r.head << " does not exist");
    rows[i] = s.offset[r.head] + r.row;
    ++per_head[r.head];
  }
  Inputs in = make_batch(s.enc, rows.data(), B);
  Model& m = *s.model;
  m.zero_grad();
  s.drop.step = static_cast<uint64_t>(s.step);
  ModelOutputs out = m.forward_train(in.input_ids, in.attention_mask, in.token_type_ids, s.drop);
  // Per head: its rows' logits, mean cross-entropy, gradient scattered back to the batch rows.
  std::vector<std::vector<float>> d(H);
  std::vector<const float*> dptr(H, nullptr);
  double total = 0;
  LossOptions lo;  // cross-entropy
  for (size_t k = 0; k < H; ++k) {
    if (per_head[k] == 0) continue;
    const int64_t L = static_cast<int64_t>(s.heads[k].labels.size()), n = per_head[k];
    const float* z = out.head_logits[k].f32();
    std::vector<float> zk(n * L), yk(n), dk(n * L);
    std::vector<int64_t> at;
    for (int64_t i = 0; i < B; ++i)
      if (batch[i].head == k) {
        std::memcpy(&zk[at.size() * L], z + i * L, L * sizeof(float));
        yk[at.size()] = s.heads[k].train.targets[batch[i].row];
        at.push_back(i);
      }
    const double l = loss_forward_backward(lo, zk.data(), yk.data(), n, L, dk.data());
    TERN_CHECK(std::isfinite(l), "multi-task training: loss of task " << s.heads[k].name << " is " << l
                                                                      << " at step " << s.step + 1);
    const float w = s.heads[k].loss_weight;
    total += w * l;
    d[k].assign(B * L, 0.f);
    for (size_t j = 0; j < at.size(); ++j)
      for (int64_t c = 0; c < L; ++c) d[k][at[j] * L + c] = w * dk[j * L + c];
    dptr[k] = d[k].data();
  }
  m.backward_heads(dptr, nullptr);
  clip_grad_norm(*s.arena, s.o.clip);
  std::vector<bool> active = s.encoder_slices;
  for (size_t k = 0; k < H; ++k)
    if (per_head[k] > 0)
      for (size_t i = 0; i < active.size(); ++i)
        if (s.head_slices[k][i]) active[i] = true;
  s.adam->step_active(*s.arena, s.sched.lr_at(s.step), active);
  m.zero_grad();
  ++s.step;
  return total;
}

double MultiTaskTrainer::train_step(size_t* head) {
  State& s = *s_;
  double sum = 0;
  for (const auto& h : s.heads) sum += h.sampling_weight;
  TERN_CHECK(sum > 0, "multi-task training: every sampling weight is 0");
  double u = s.rng.uniform() * sum;
  size_t k = 0;
  while (k + 1 < s.heads.size() && (u -= s.heads[k].sampling_weight) >= 0) ++k;
  while (s.heads[k].sampling_weight <= 0) k = (k + 1) % s.heads.size();
  const int64_t N = static_cast<int64_t>(s.heads[k].train.size());
  std::vector<TaskRow> batch;
  for (int64_t i = 0; i < std::min(s.o.batch_size, N); ++i) {
    if (s.cursor[k] >= s.order[k].size()) {  // a new pass over this task's data, freshly shuffled
      auto& p = s.order[k];
      p.resize(N);
      std::iota(p.begin(), p.end(), 0);
      SplitMix r{s.o.seed * 0xD1B54A32D192ED03ull + (k + 1) * 0x9E3779B97F4A7C15ull +
                 static_cast<uint64_t>(s.passes[k]++)};
      for (int64_t j = N - 1; j > 0; --j) std::swap(p[j], p[r.next() % static_cast<uint64_t>(j + 1)]);
      s.cursor[k] = 0;
    }
    batch.push_back({k, s.order[k][s.cursor[k]++]});
  }
  if (head) *head = k;
  return step(batch);
}

int64_t MultiTaskTrainer::steps_done() const {
  return s_->step;
}
double MultiTaskTrainer::lr_at_next_step() const {
  return s_->sched.lr_at(s_->step);
}

std::vector<float> MultiTaskTrainer::predict(size_t head, const std::vector<std::string>& texts,
                                             int64_t batch_size) {
  State& s = *s_;
  TERN_CHECK(head < s.heads.size(), "predict: no head " << head);
  const Encoded e = encode_texts(*s.tk, texts, s.o.max_length, s.o.normalize_tweets);
  const int64_t N = static_cast<int64_t>(e.size()), L = static_cast<int64_t>(s.heads[head].labels.size());
  const std::vector<int64_t> order = infer::length_order(e);
  std::vector<float> out(static_cast<size_t>(N * L));
  for (int64_t r0 = 0; r0 < N; r0 += batch_size) {
    const int64_t n = std::min(batch_size, N - r0);
    Inputs in = make_batch(e, order.data() + r0, n);
    ModelOutputs o = s.model->forward(in.input_ids, in.attention_mask, in.token_type_ids);
    const float* z = o.head_logits[head].f32();
    for (int64_t i = 0; i < n; ++i) std::memcpy(&out[order[r0 + i] * L], z + i * L, L * sizeof(float));
  }
  return out;
}

void MultiTaskTrainer::save(const std::string& path, const std::map<std::string, std::string>& extra) const {
  const State& s = *s_;
  ModelBundle out;
  out.config_json = s.cfg_json;
  out.tokenizer_files = s.bundle.tokenizer_files;
  out.metadata = s.bundle.metadata;
  out.metadata.erase("training");
  out.metadata["created_by"] = "tern multi-task training";
  out.metadata[kHeadsMetadataKey] = multi_heads_metadata(s.infos);
  json r = s.recipe;
  r["steps_done"] = s.step;
  out.metadata["recipe"] = r.dump();
  out.metadata["normalize_tweets"] = s.o.normalize_tweets ? "true" : "false";
  out.metadata["max_length"] = std::to_string(s.o.max_length);
  for (const auto& [k, v] : extra) out.metadata[k] = v;
  for (const ParamSlice& sl : s.arena->slices) out.tensors[sl.param->name] = sl.param->value.clone();
  save_model(path, out);
}

Model& MultiTaskTrainer::model() {
  return *s_->model;
}
const std::vector<MultiTaskHead>& MultiTaskTrainer::heads() const {
  return s_->heads;
}
const std::vector<MultiHeadInfo>& MultiTaskTrainer::head_infos() const {
  return s_->infos;
}
const tok::Tokenizer& MultiTaskTrainer::tokenizer() const {
  return *s_->tk;
}

}  // namespace tern::train
