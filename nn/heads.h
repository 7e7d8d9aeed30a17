// What sits on top of the encoder: the pooler and the sequence-classification heads, each a class with its
// forward and backward side by side (as EncoderLayer). Mirrors
//   BertPooler / RobertaPooler  (dense + tanh on the first token)
//     https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py
//   BertForSequenceClassification.classifier       logits = drop(pooled) W_c + b_c
//     https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py
//   RobertaClassificationHead                      logits = drop(tanh(drop(x0) W_d + b_d)) W_o + b_o
//     https://github.com/huggingface/transformers/blob/main/src/transformers/models/roberta/modeling_roberta.py
//   DistilBertForSequenceClassification            logits = drop(relu(x0 W_pre + b_pre)) W_c + b_c
//     https://github.com/huggingface/transformers/blob/main/src/transformers/models/distilbert/modeling_distilbert.py
// with x0 = last_hidden_state[:, 0] and pooled = the pooler's output.
//
// A model holds a list of named heads on one encoder (multi-task). Each head has num_outputs() logits:
// classes of a single- or multi-label task, or targets of a regression (one or several), as HF's
// num_labels. Forward is the same code in inference and training: given a HeadDropout it keeps in its
// HeadCache what backward needs; without one (inference) it only uses the cache as scratch.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "nn/config.h"
#include "nn/layers.h"

namespace tern {

// A head's buffers: scratch in inference, what backward needs in training.
struct HeadCache {
  Buffer x0;        // (B, C) the head's input after its first dropout (RoBERTa), or a copy of it
  Buffer hidden;    // (B, C) after the dense layer and its activation (RoBERTa, DistilBERT)
  Buffer in_out;    // (B, C) the input of the output projection, after dropout (training)
  Buffer d_hidden;  // (B, C) gradient scratch
  Buffer logits;    // (B, num_outputs)
};

// Dropout of a head in a training forward: `input` before the first projection, `hidden` before the
// output projection (inactive masks = no dropout).
struct HeadDropout {
  DropoutMask input, hidden;
};

// BertPooler / RobertaPooler: pooled = tanh(x0 W + b).
class Pooler {
 public:
  Pooler(ParamStore& ps, const std::string& name, int64_t C, bool initialisable);
  // first: (B, C) hidden state of the first token; pooled: (B, C) out.
  void forward(const float* first, float* pooled, int64_t B) const;
  // d_pooled: (B, C) in, overwritten (scratch); d_first: (B, C) written. Parameter gradients accumulate.
  void backward(const float* first, const float* pooled, float* d_pooled, float* d_first, int64_t B) const;
  void set_trainable(bool on);
  const Linear& dense() const { return dense_; }

 private:
  Linear dense_;
};

// What a head reads: the pooler's output (BERT) or the first token's hidden state.
enum class HeadInput : uint8_t { Pooled, FirstToken };

class Head {
 public:
  virtual ~Head() = default;
  const std::string& name() const { return name_; }
  int64_t num_outputs() const { return num_outputs_; }
  ProblemType problem_type() const { return problem_type_; }
  virtual HeadInput input() const = 0;
  // x: (B, C) as input() says; logits: (B, num_outputs) out. `drop` non-null: training (cache + dropout).
  virtual void forward(const float* x, float* logits, int64_t B, HeadCache& cache,
                       const HeadDropout* drop) const = 0;
  // Backward of the last training forward with `cache`: d_logits (B, num_outputs) in; dx (B, C) written.
  // Parameter gradients accumulate (+=) when trainable.
  virtual void backward(const float* d_logits, float* dx, int64_t B, HeadCache& cache,
                        const HeadDropout& drop) const = 0;
  virtual void set_trainable(bool on) = 0;
  // Multiply-adds x 2 of one forward on B rows.
  virtual double flops(int64_t B) const = 0;

 protected:
  Head(std::string name, int64_t C, int64_t num_outputs, ProblemType p)
      : name_(std::move(name)), hidden_(C), num_outputs_(num_outputs), problem_type_(p) {}
  std::string name_;
  int64_t hidden_;
  int64_t num_outputs_;
  ProblemType problem_type_;
};

// BertForSequenceClassification: dropout, then `classifier` on the pooled output.
class BertClassificationHead : public Head {
 public:
  // out_name: "classifier" for the HF head.
  BertClassificationHead(ParamStore& ps, const std::string& head_name, const std::string& out_name, int64_t C,
                         int64_t L, ProblemType p);
  HeadInput input() const override { return HeadInput::Pooled; }
  void forward(const float* x, float* logits, int64_t B, HeadCache& cache,
               const HeadDropout* drop) const override;
  void backward(const float* d_logits, float* dx, int64_t B, HeadCache& cache,
                const HeadDropout& drop) const override;
  void set_trainable(bool on) override;
  double flops(int64_t B) const override { return 2.0 * B * hidden_ * num_outputs_; }

 private:
  Linear out_;
};

// dense + activation + output projection on the first token: RobertaClassificationHead (dropout, dense,
// tanh, dropout, out_proj) and DistilBERT's pre_classifier + ReLU + dropout + classifier.
class DenseClassificationHead : public Head {
 public:
  DenseClassificationHead(ParamStore& ps, const std::string& head_name, const std::string& dense_name,
                          const std::string& out_name, int64_t C, int64_t L, ProblemType p, Act act,
                          bool input_dropout);
  HeadInput input() const override { return HeadInput::FirstToken; }
  void forward(const float* x, float* logits, int64_t B, HeadCache& cache,
               const HeadDropout* drop) const override;
  void backward(const float* d_logits, float* dx, int64_t B, HeadCache& cache,
                const HeadDropout& drop) const override;
  void set_trainable(bool on) override;
  double flops(int64_t B) const override { return 2.0 * B * hidden_ * (hidden_ + num_outputs_); }

 private:
  Linear dense_, out_;
  Act act_;             // Tanh (RoBERTa) or Relu (DistilBERT)
  bool input_dropout_;  // RoBERTa drops the first token's state before the dense layer; DistilBERT does not
};

// The head of `arch` named `name` with L outputs. "classifier" is the Hugging Face head, with HF's parameter
// names (BERT: classifier; RoBERTa: classifier.dense, classifier.out_proj; DistilBERT: pre_classifier,
// classifier); any other name N is an extra head of a multi-task model (BERT: N.classifier; RoBERTa:
// N.dense, N.out_proj; DistilBERT: N.pre_classifier, N.classifier). Its parameters may be initialised (a
// new head on an encoder checkpoint) when the ParamStore allows it.
std::unique_ptr<Head> make_head(Arch arch, ParamStore& ps, const std::string& name, int64_t C, int64_t L,
                                ProblemType p);

}  // namespace tern
