// InferModel::load_heads: a multi-task model file (nn/multi_head.h) as one InferModel per head.
#include <memory>
#include <string>
#include <vector>

#include "infer/predictor.h"
#include "nn/multi_head.h"
#include "tensor/check.h"

namespace tern::infer {

std::vector<std::shared_ptr<const InferModel>> InferModel::load_heads(const std::string& name_or_path,
                                                                      const Options& opt) {
  std::shared_ptr<const InferModel> base = load(name_or_path, opt);
  const std::vector<MultiHeadInfo> heads =
      multi_heads_from_metadata(base->info().metadata, base->info().path);
  if (heads.empty()) return {base};
  std::vector<std::shared_ptr<const InferModel>> out;
  // load() built the weights with these heads after the config's own (a multi-task file has none).
  const int64_t first = base->info().kind == OutputKind::Encoder ? 0 : 1;
  for (size_t k = 0; k < heads.size(); ++k) {
    TERN_CHECK(
        heads[k].problem_type == ProblemType::SingleLabel ||
            heads[k].problem_type == ProblemType::Unspecified,
        base->info().path << ": head " << heads[k].name << ": only single-label heads are supported here");
    std::shared_ptr<InferModel> m(new InferModel(*base));
    m->info_.name = heads[k].name;
    m->info_.labels = heads[k].labels;
    m->info_.kind = OutputKind::Single;
    m->head_ = first + static_cast<int64_t>(k);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace tern::infer
