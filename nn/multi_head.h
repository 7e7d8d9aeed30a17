// Multi-task models ("one encoder, many heads"): which heads a model file carries. A multi-task model file
// (written by train::MultiTaskTrainer) has an encoder config without a head of its own and one head per
// task, parameters named after the task (BERT "emotion.classifier.{weight,bias}"; RoBERTa "emotion.dense.*",
// "emotion.out_proj.*"), listed in its metadata "heads":
//   [{"name": "emotion", "labels": ["anger", ...], "problem_type": "single_label_classification"}, ...]
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/model.h"

namespace tern {

struct MultiHeadInfo {
  std::string name;
  std::vector<std::string> labels;  // class names in logit order
  ProblemType problem_type = ProblemType::SingleLabel;
};

// The metadata key that lists the heads.
inline constexpr const char* kHeadsMetadataKey = "heads";

// The heads a model file's metadata lists (empty when it has no "heads" key). Errors name `source`.
std::vector<MultiHeadInfo> multi_heads_from_metadata(const std::map<std::string, std::string>& metadata,
                                                     const std::string& source);
// The metadata value that lists `heads`.
std::string multi_heads_metadata(const std::vector<MultiHeadInfo>& heads);
// ModelOptions::extra_heads for those heads.
std::vector<HeadSpec> head_specs(const std::vector<MultiHeadInfo>& heads);
// ModelOptions with the extra heads a model file's metadata lists (none: default options).
ModelOptions multi_head_options(const std::map<std::string, std::string>& metadata,
                                const std::string& source);

// Loads a tern model file with every head its metadata lists (a plain model file loads as
// load_model_shared does). heads() of the result: the config's own head first (if any), then the listed.
std::shared_ptr<const LoadedModel> load_multi_head_model(const std::string& path,
                                                         std::vector<MultiHeadInfo>* heads = nullptr);

}  // namespace tern
