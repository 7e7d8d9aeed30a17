// tern grad --model M.h5 --input batch.h5 --output grads.h5: a model's loss and every parameter's gradient
// on one batch, as Hugging Face computes them (for checking tern against PyTorch).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "nn/model.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "train/model_loss.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"
#include "weights/model_file.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Computes the model's training loss on one batch with dropout off, as Hugging Face's "
    "forward(labels=...)\n"
    "does for the config's problem_type (unset: regression when num_labels == 1, single-label when labels\n"
    "are integers, else multi-label; CrossEntropyLoss / BCEWithLogitsLoss / MSELoss, mean over the batch),\n"
    "and its gradient for every parameter.\n"
    "\n"
    "BATCH.h5: int (B, T) input_ids, attention_mask, optional token_type_ids at the root or in the group\n"
    "inputs/, and `labels` (int (B) class ids or float (B, L)) at the root or in inputs/ - the layout of "
    "the\n"
    "fixtures' reference.h5. A model without a head (BertModel) uses the fixtures' projection loss\n"
    "  loss = sum(last_hidden_state * attention_mask[..., None] * w1) / sum(attention_mask)\n"
    "       + sum(pooler_output * w2) / batch\n"
    "with float (C) datasets loss_w1, loss_w2 (or train/synthetic_loss_w1, train/synthetic_loss_w2).\n"
    "\n"
    "GRADS.h5: `loss` (float32 scalar) and grads/<Hugging Face parameter name> (float32).";

}  // namespace

int cmd_grad(int argc, char** argv) {
  CLI::App app("", "tern grad");
  app.footer(kAbout);
  init_app(app);
  std::string model_path, in_path, out_path;
  int threads = 0;
  app.add_option("--model", model_path, "tern model (.h5), or a Hugging Face checkpoint directory")
      ->type_name("FILE|DIR")
      ->required();
  app.add_option("--input", in_path, "the batch (.h5)")->type_name("FILE")->required();
  app.add_option("--output", out_path, "loss and gradients (.h5), written atomically")
      ->type_name("FILE")
      ->required();
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  ModelBundle bundle =
      std::filesystem::is_directory(model_path) ? import_hf(model_path) : load_model(model_path);
  auto model = Model::from_bundle(bundle, model_path);
  train::GradBatch batch = train::read_grad_batch(in_path);
  const auto t0 = std::chrono::steady_clock::now();
  ParamArena& arena = model->pack();
  model->zero_grad();
  const double loss = train::model_loss_and_backward(*model, batch);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  TensorMap out;
  const float lf = static_cast<float>(loss);
  out["loss"] = Tensor::from_data(&lf, {});
  for (const ParamSlice& s : arena.slices)
    out["grads/" + train::hf_param_name(*model, s.param->name)] =
        Tensor::from_data(arena.grads + s.offset, s.param->value.shape());
  write_h5_arrays(out_path, out);
  std::fprintf(stderr, "tern grad: loss %.7f, %zu gradients, forward + backward %.1f ms (%d threads) -> %s\n",
               loss, arena.slices.size(), ms, num_threads(), out_path.c_str());
  return 0;
}

}  // namespace tern::cli
