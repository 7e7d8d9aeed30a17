#include "nn/multi_head.h"

#include <nlohmann/json.hpp>

#include "tensor/check.h"

namespace tern {

using nlohmann::json;

std::vector<MultiHeadInfo> multi_heads_from_metadata(const std::map<std::string, std::string>& metadata,
                                                     const std::string& source) {
  std::vector<MultiHeadInfo> out;
  auto it = metadata.find(kHeadsMetadataKey);
  if (it == metadata.end()) return out;
  json j;
  try {
    j = json::parse(it->second);
  } catch (const std::exception& e) {
    TERN_FAIL(source << ": metadata '" << kHeadsMetadataKey << "' is not JSON: " << e.what());
  }
  if (!j.is_array()) TERN_FAIL(source << ": metadata '" << kHeadsMetadataKey << "' is not a JSON array");
  for (size_t k = 0; k < j.size(); ++k) {
    const json& h = j[k];
    const std::string where = source + ": metadata '" + kHeadsMetadataKey + "'[" + std::to_string(k) + "]";
    if (!h.is_object() || !h.contains("name") || !h["name"].is_string() || !h.contains("labels") ||
        !h["labels"].is_array() || h["labels"].empty())
      TERN_FAIL(where << ": needs \"name\" (string) and \"labels\" (non-empty array of strings)");
    MultiHeadInfo m;
    m.name = h["name"].get<std::string>();
    for (const json& l : h["labels"]) {
      if (!l.is_string()) TERN_FAIL(where << ": a label is not a string");
      m.labels.push_back(l.get<std::string>());
    }
    if (h.contains("problem_type")) {
      if (!h["problem_type"].is_string()) TERN_FAIL(where << ": problem_type is not a string");
      m.problem_type = problem_type_from_name(h["problem_type"].get<std::string>());
    }
    if (m.name.empty()) TERN_FAIL(where << ": empty head name");
    for (const auto& o : out)
      if (o.name == m.name) TERN_FAIL(where << ": head '" << m.name << "' is listed twice");
    out.push_back(std::move(m));
  }
  return out;
}

std::string multi_heads_metadata(const std::vector<MultiHeadInfo>& heads) {
  json j = json::array();
  for (const auto& h : heads)
    j.push_back(
        {{"name", h.name}, {"labels", h.labels}, {"problem_type", problem_type_name(h.problem_type)}});
  return j.dump();
}

std::vector<HeadSpec> head_specs(const std::vector<MultiHeadInfo>& heads) {
  std::vector<HeadSpec> out;
  for (const auto& h : heads) out.push_back({h.name, static_cast<int64_t>(h.labels.size()), h.problem_type});
  return out;
}

ModelOptions multi_head_options(const std::map<std::string, std::string>& metadata,
                                const std::string& source) {
  ModelOptions mo;
  mo.extra_heads = head_specs(multi_heads_from_metadata(metadata, source));
  return mo;
}

std::shared_ptr<const LoadedModel> load_multi_head_model(const std::string& path,
                                                         std::vector<MultiHeadInfo>* heads) {
  ModelBundle b = load_model(path);
  std::vector<MultiHeadInfo> h = multi_heads_from_metadata(b.metadata, path);
  ModelOptions mo;
  mo.extra_heads = head_specs(h);
  if (heads) *heads = h;
  return LoadedModel::from_bundle(b, path, mo);
}

}  // namespace tern
