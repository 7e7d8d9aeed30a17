// import_hf: a Hugging Face model directory (or checkpoint file) -> ModelBundle.
#include "weights/import.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace tern {

namespace fs = std::filesystem;

namespace {

const char* const kTokenizerFiles[] = {"vocab.txt",
                                       "vocab.json",
                                       "merges.txt",
                                       "tokenizer.json",
                                       "tokenizer_config.json",
                                       "special_tokens_map.json",
                                       "added_tokens.json"};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) TERN_FAIL(p.string() << ": cannot open: " << std::strerror(errno));
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) TERN_FAIL(p.string() << ": read error");
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool has_hdf5_signature(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char sig[8] = {0};
  in.read(sig, 8);
  return in.gcount() == 8 && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

// model.safetensors.index.json: {"metadata": {...}, "weight_map": {name: shard file}}.
TensorMap read_sharded(const fs::path& index) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(index));
  } catch (const nlohmann::json::exception& e) {
    TERN_FAIL(index.string() << ": not valid JSON: " << e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    TERN_FAIL(index.string() << ": no 'weight_map' object");
  std::map<std::string, std::string> where;  // tensor -> shard
  std::set<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      TERN_FAIL(index.string() << ": weight_map['" << it.key() << "'] is not a file name");
    std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == "..")
      TERN_FAIL(index.string() << ": shard name '" << shard << "' must be a file next to the index");
    where[it.key()] = shard;
    shards.insert(shard);
  }
  TensorMap out;
  for (const std::string& shard : shards) {
    fs::path sp = index.parent_path() / shard;
    for (auto& [name, t] : read_safetensors(sp.string())) {
      auto w = where.find(name);
      if (w == where.end() || w->second != shard)
        TERN_FAIL(sp.string() << ": holds tensor '" << name << "', which " << index.filename().string()
                              << (w == where.end() ? " does not list" : " assigns to " + w->second));
      out.emplace(name, std::move(t));
    }
  }
  for (const auto& [name, shard] : where)
    if (!out.count(name))
      TERN_FAIL(index.string() << ": lists tensor '" << name << "' in " << shard
                               << ", which does not hold it");
  return out;
}

}  // namespace

ModelBundle import_hf(const std::string& path, const ImportOptions& opt) {
  fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) TERN_FAIL(path << ": no such file or directory");
  fs::path dir, ckpt;
  if (fs::is_directory(p, ec)) {
    dir = p;
    for (const char* name : {"model.safetensors", "model.safetensors.index.json", "tf_model.h5"})
      if (fs::exists(dir / name, ec)) {
        ckpt = dir / name;
        break;
      }
    if (ckpt.empty()) {
      if (fs::exists(dir / "pytorch_model.bin", ec))
        TERN_FAIL(
            path << ": holds only pytorch_model.bin (a Python pickle), which tern does not read; convert it "
                    "with transformers: model.save_pretrained(dir, safe_serialization=True)");
      TERN_FAIL(
          path << ": no model.safetensors, model.safetensors.index.json or tf_model.h5 in this directory");
    }
  } else {
    ckpt = p;
    dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  }

  std::string cname = ckpt.filename().string();
  std::string format;
  TensorMap tensors;
  if (ends_with(cname, ".index.json")) {
    format = "safetensors";
    tensors = read_sharded(ckpt);
  } else if (ends_with(cname, ".h5") || ends_with(cname, ".hdf5") ||
             (!ends_with(cname, ".safetensors") && has_hdf5_signature(ckpt))) {
    format = "tf_h5";
    tensors = read_tf_h5(ckpt.string());
  } else {
    format = "safetensors";
    tensors = read_safetensors(ckpt.string());
  }

  ModelBundle m;
  fs::path config = dir / "config.json";
  if (!fs::exists(config, ec))
    TERN_FAIL(path << ": no config.json in " << dir.string() << " (next to " << cname << ")");
  m.config_json = read_file(config);
  try {
    if (!nlohmann::json::parse(m.config_json).is_object())
      TERN_FAIL(config.string() << ": not a JSON object");
  } catch (const nlohmann::json::exception& e) {
    TERN_FAIL(config.string() << ": not valid JSON: " << e.what());
  }

  std::string dropped;
  for (auto it = tensors.begin(); it != tensors.end();) {
    const std::string& name = it->first;
    bool buffer = (name == "position_ids" || ends_with(name, ".position_ids")) &&
                  (it->second.dtype() == DType::I64 || it->second.dtype() == DType::I32);
    if (buffer) {
      dropped += (dropped.empty() ? "" : ",") + name;
      it = tensors.erase(it);
      continue;
    }
    if (!opt.allow_nonfinite) check_finite(name, it->second, ckpt.string());
    ++it;
  }
  m.tensors = std::move(tensors);
  for (const char* name : kTokenizerFiles)
    if (fs::is_regular_file(dir / name, ec)) m.tokenizer_files[name] = read_file(dir / name);
  m.metadata["source"] = path;
  m.metadata["source_format"] = format;
  if (!dropped.empty()) m.metadata["dropped_buffers"] = dropped;
  return m;
}

}  // namespace tern
