#include "nn/quantize.h"

#include "nn/layers.h"
#include "tensor/packed_weight.h"

namespace tern {

int64_t quantize_encoder_int8(const ModelConfig& cfg, TensorMap& tensors, const std::string& source) {
  const int64_t C = cfg.hidden, I = cfg.intermediate;
  int64_t count = 0;
  for (int64_t i = 0; i < cfg.layers; ++i) {
    const LayerNames n = LayerNames::for_arch(cfg.arch, cfg.prefix, i);
    const std::string names[6] = {n.q, n.k, n.v, n.attn_out, n.ffn_in, n.ffn_out};
    const int64_t shapes[6][2] = {{C, C}, {C, C}, {C, C}, {C, C}, {I, C}, {C, I}};
    for (int j = 0; j < 6; ++j) {
      std::string name = names[j] + ".weight";
      if (!tensors.count(name)) {
        // A bare encoder checkpoint names its tensors without the base-model prefix.
        const std::string bare = name.substr(cfg.prefix.size() + 1);
        TERN_CHECK(tensors.count(bare), source << ": missing tensor " << name);
        name = bare;
      }
      const Tensor& w = tensors.at(name);
      TERN_CHECK(w.dtype() != DType::I8, source << ": tensor " << name << " is already int8");
      const Shape want = {shapes[j][0], shapes[j][1]};
      TERN_CHECK(w.shape() == want, source << ": tensor " << name << " has shape " << shape_str(w.shape())
                                           << ", expected " << shape_str(want));
      TERN_CHECK(w.dtype() == DType::F32 || w.dtype() == DType::F16 || w.dtype() == DType::BF16,
                 source << ": tensor " << name << " has dtype " << dtype_name(w.dtype())
                        << ", expected a floating-point type");
      const Tensor f = w.dtype() == DType::F32 ? w.contiguous() : w.to(DType::F32);
      Tensor q = Tensor::empty(want, DType::I8);
      Tensor s = Tensor::empty({want[0]});
      try {
        quantize_weight_i8(f.f32(), want[0], want[1], want[1], q.i8(), s.f32());
      } catch (const Error& e) {
        TERN_FAIL(source << ": tensor " << name << ": " << e.what());
      }
      tensors[name] = q;
      tensors[name + kInt8ScaleSuffix] = s;
      ++count;
    }
  }
  return count;
}

}  // namespace tern
