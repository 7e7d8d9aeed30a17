// _tern: the Python binding of tern (pybind11). A thin layer: every number, row and message comes from the
// C++ libraries the CLI uses (infer/predictor.h, infer/annotate.h, tokenizer/tokenizer.h); this file only
// moves texts in and arrays / JSON rows out, releases the GIL around compute and maps tern's errors to
// Python exceptions. The user-facing API (tern.load, Model.predict_df, tern.dask) is python/tern/*.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "infer/annotate.h"
#include "infer/predictor.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"
#include "weights/model_file.h"

namespace py = pybind11;

namespace {

using tern::infer::InferModel;
using tern::infer::ModelResult;
using tern::infer::Pool;
using tern::infer::Predictor;

// tern.Error (RuntimeError) <- tern.BadInputError (also ValueError), tern.BadModelError.
PyObject* g_error = nullptr;
PyObject* g_bad_input = nullptr;
PyObject* g_bad_model = nullptr;

[[noreturn]] void raise(PyObject* type, const std::string& msg) {
  PyErr_SetString(type, msg.c_str());
  throw py::error_already_set();
}

// Runs f; a tern::Error (or tokenizer error) becomes a Python exception of `type` with the same message
// the CLI prints. f may release the GIL inside; it is held again when the handler runs.
template <class F>
auto guarded(PyObject* type, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const tern::Error& e) {
    raise(type, e.what());
  } catch (const tern::tok::TokenizerError& e) {
    raise(type, e.what());
  }
}

// A Python iterable of str -> UTF-8 strings (with the GIL held). A lone string, None, a number (pandas' NaN
// for a missing text) or bytes is bad input, named by its position.
std::vector<std::string> texts_of(py::handle obj) {
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()))
    raise(g_bad_input, "texts must be a list (or other iterable) of str, not a single " +
                           std::string(Py_TYPE(obj.ptr())->tp_name) + " (wrap it: [text])");
  std::vector<std::string> out;
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) out.reserve(static_cast<size_t>(py::len(obj)));
  py::iterator it;
  try {
    it = py::iter(obj);
  } catch (py::error_already_set&) {
    raise(g_bad_input, "texts must be an iterable of str, got " + std::string(Py_TYPE(obj.ptr())->tp_name));
  }
  size_t i = 0;
  for (; it != py::iterator::sentinel(); ++it, ++i) {
    PyObject* o = (*it).ptr();
    if (!PyUnicode_Check(o)) {
      std::string what = o == Py_None ? "None" : std::string("a ") + Py_TYPE(o)->tp_name;
      if (PyFloat_Check(o)) what += " (" + py::str(o).cast<std::string>() + ")";
      raise(g_bad_input, "texts[" + std::to_string(i) + "] is " + what + ", not a string");
    }
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (!s) {
      PyErr_Clear();
      raise(g_bad_input, "texts[" + std::to_string(i) +
                             "] is not valid Unicode (a lone surrogate): it cannot be "
                             "encoded as UTF-8");
    }
    out.emplace_back(s, static_cast<size_t>(n));
  }
  return out;
}

// A float32 numpy array of shape (rows, cols), C order.
py::array_t<float> new_f32(size_t rows, size_t cols) {
  return py::array_t<float>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
}

// ---------------------------------------------------------------------------------------------------------
// Model: a loaded InferModel plus a pool of Predictors (one is taken per call, so that several Python
// threads can predict with one model at once; each Predictor keeps its buffers across calls).

class PyModel {
 public:
  PyModel(const std::string& name_or_path, int threads, int64_t batch_size, std::optional<int64_t> max_length,
          std::optional<bool> normalize_tweets, int64_t window)
      : threads_(threads), batch_size_(batch_size), window_(window) {
    if (threads < 0)
      raise(PyExc_ValueError, "threads must be >= 0 (0 or None: all cores), got " + std::to_string(threads));
    if (batch_size < 1) raise(PyExc_ValueError, "batch_size must be >= 1, got " + std::to_string(batch_size));
    if (window < 1) raise(PyExc_ValueError, "window must be >= 1, got " + std::to_string(window));
    InferModel::Options o;
    o.max_length = max_length;
    o.normalize_tweets = normalize_tweets;
    model_ = guarded(g_bad_model, [&] {
      py::gil_scoped_release nogil;
      return InferModel::load(name_or_path, o);
    });
  }

  const tern::infer::ModelInfo& info() const { return model_->info(); }
  int threads() const { return threads_; }
  int64_t batch_size() const { return batch_size_; }
  int64_t window() const { return window_; }
  std::shared_ptr<const InferModel> model() const { return model_; }

  // Runs the model over `texts` (GIL released by the caller) in windows of window_ texts, each window in
  // length-sorted batches of batch_size_, exactly as `tern infer --window W --batch-size B` does, so the
  // numbers are the CLI's bit for bit. sink(first, n, result) gets each window's outputs.
  void run(const std::vector<std::string>& texts, Pool pool,
           const std::function<void(size_t, size_t, const ModelResult&)>& sink) {
    tern::set_num_threads(threads_);  // OpenMP's thread count is per calling thread: set it in this one
    std::unique_ptr<Predictor> p = acquire(pool);
    struct Back {
      PyModel* self;
      Pool pool;
      std::unique_ptr<Predictor>& p;
      ~Back() { self->give_back(pool, std::move(p)); }
    } back{this, pool, p};
    const size_t W = static_cast<size_t>(window_);
    for (size_t a = 0; a < texts.size(); a += W) {
      const size_t n = std::min(W, texts.size() - a);
      const std::vector<std::string> part(texts.begin() + static_cast<std::ptrdiff_t>(a),
                                          texts.begin() + static_cast<std::ptrdiff_t>(a + n));
      const std::vector<ModelResult> r = p->predict(part);
      sink(a, n, r[0]);
      if (a + n < texts.size()) {
        // Ctrl-C in a notebook stops a long call between windows (Python runs signal handlers in its main
        // thread only; elsewhere this is a no-op).
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      }
    }
  }

 private:
  std::unique_ptr<Predictor> acquire(Pool pool) {
    {
      std::lock_guard<std::mutex> l(mu_);
      auto& v = free_[static_cast<int>(pool)];
      if (!v.empty()) {
        auto p = std::move(v.back());
        v.pop_back();
        return p;
      }
    }
    tern::infer::PredictOptions po;
    po.batch_size = batch_size_;
    po.pool = pool;
    return std::make_unique<Predictor>(std::vector<std::shared_ptr<const InferModel>>{model_}, po);
  }
  void give_back(Pool pool, std::unique_ptr<Predictor> p) {
    if (!p) return;
    std::lock_guard<std::mutex> l(mu_);
    auto& v = free_[static_cast<int>(pool)];
    if (v.size() < 4) v.push_back(std::move(p));
  }

  std::shared_ptr<const InferModel> model_;
  int threads_;
  int64_t batch_size_, window_;
  std::mutex mu_;
  std::map<int, std::vector<std::unique_ptr<Predictor>>> free_;
};

// Rows exactly as tern infer writes them (without the id): a JSON array, one object per text, made by
// infer::append_prediction_json.
std::string predict_json(PyModel& m, py::handle texts_obj, bool with_logits) {
  const std::vector<std::string> texts = texts_of(texts_obj);
  const auto& info = m.info();
  if (info.kind == tern::infer::OutputKind::Encoder)
    raise(g_bad_model, info.path +
                           ": the model has no classification head (an encoder checkpoint): it can give "
                           "embeddings only");
  return guarded(g_bad_input, [&] {
    py::gil_scoped_release nogil;
    std::string out = "[";
    const size_t L = info.labels.size();
    m.run(texts, Pool::None, [&](size_t first, size_t n, const ModelResult& r) {
      for (size_t i = 0; i < n; ++i) {
        if (first + i) out += ',';
        out += '{';
        tern::infer::append_prediction_json(out, info, r.logits.data() + i * L, with_logits);
        out += '}';
      }
    });
    out += ']';
    return out;
  });
}

py::array_t<float> logits(PyModel& m, py::handle texts_obj) {
  const std::vector<std::string> texts = texts_of(texts_obj);
  const auto& info = m.info();
  if (info.kind == tern::infer::OutputKind::Encoder)
    raise(g_bad_model, info.path +
                           ": the model has no classification head (an encoder checkpoint): it can give "
                           "embeddings only");
  const size_t L = info.labels.size();
  py::array_t<float> out = new_f32(texts.size(), L);
  float* dst = out.mutable_data();
  guarded(g_bad_input, [&] {
    py::gil_scoped_release nogil;
    m.run(texts, Pool::None, [&](size_t first, size_t n, const ModelResult& r) {
      std::memcpy(dst + first * L, r.logits.data(), n * L * sizeof(float));
    });
  });
  return out;
}

py::array_t<float> embed(PyModel& m, py::handle texts_obj, const std::string& pool_name) {
  const Pool pool = guarded(PyExc_ValueError, [&] { return tern::infer::pool_from_name(pool_name); });
  if (pool == Pool::None) raise(PyExc_ValueError, "pool must be 'cls' or 'mean', got '" + pool_name + "'");
  const std::vector<std::string> texts = texts_of(texts_obj);
  const size_t C = static_cast<size_t>(m.info().hidden);
  py::array_t<float> out = new_f32(texts.size(), C);
  float* dst = out.mutable_data();
  guarded(g_bad_input, [&] {
    py::gil_scoped_release nogil;
    m.run(texts, pool, [&](size_t first, size_t n, const ModelResult& r) {
      std::memcpy(dst + first * C, r.embeddings.data(), n * C * sizeof(float));
    });
  });
  return out;
}

py::dict info_dict(const tern::infer::ModelInfo& i) {
  py::dict d;
  d["name"] = i.name;
  d["path"] = i.path;
  d["kind"] = tern::infer::output_kind_name(i.kind);
  d["labels"] = i.labels;
  d["normalize_tweets"] = i.normalize_tweets;
  d["max_length"] = i.max_length;
  d["hidden"] = i.hidden;
  d["metadata"] = i.metadata;
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Tokenizer

struct PyTokenizer {
  std::shared_ptr<const tern::tok::Tokenizer> tok;
  std::string origin;
};

PyTokenizer tokenizer_from_model(const std::string& name_or_path) {
  return guarded(g_bad_model, [&] {
    py::gil_scoped_release nogil;
    const std::string path = tern::infer::resolve_model(name_or_path);
    tern::LoadOptions lo;
    lo.read_tensors = false;
    const tern::ModelBundle b = tern::load_model(path, lo);
    TERN_CHECK(!b.tokenizer_files.empty(),
               path << ": the model file holds no tokenizer files (tern convert --tokenizer DIR adds them)");
    return PyTokenizer{std::make_shared<const tern::tok::Tokenizer>(
                           tern::tok::Tokenizer::from_files(b.tokenizer_files, path)),
                       path};
  });
}

PyTokenizer tokenizer_from_dir(const std::string& dir) {
  return guarded(g_bad_model, [&] {
    py::gil_scoped_release nogil;
    return PyTokenizer{std::make_shared<const tern::tok::Tokenizer>(tern::tok::Tokenizer::from_dir(dir)),
                       dir};
  });
}

// input_ids / attention_mask (N, T) int64 padded to the longest (pad id, 0), offsets (N, T, 2) int64 in
// code points ((0, 0) for special and padding tokens), as `tern tokenize --offsets` gives them unpadded.
py::dict tokenizer_encode(const PyTokenizer& t, py::handle texts_obj, std::optional<int64_t> max_length,
                          bool normalize_tweets, int threads) {
  if (max_length && *max_length < 1)
    raise(PyExc_ValueError, "max_length must be >= 1, got " + std::to_string(*max_length));
  const std::vector<std::string> texts = texts_of(texts_obj);
  std::vector<tern::tok::Encoding> enc = guarded(g_bad_input, [&] {
    py::gil_scoped_release nogil;
    tern::tok::EncodeOptions eo;
    eo.max_length = max_length ? static_cast<size_t>(*max_length) : 0;
    eo.normalize_tweets = normalize_tweets;
    tern::tok::PaddingOptions po;
    po.mode = tern::tok::PaddingOptions::Mode::kLongest;
    if (threads > 0) tern::set_num_threads(threads);
    return t.tok->encode_batch(texts, eo, po, threads > 0 ? threads : tern::num_threads());
  });
  const size_t N = enc.size(), T = N ? enc[0].size() : 0;
  py::array_t<int64_t> ids({static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(T)});
  py::array_t<int64_t> mask({static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(T)});
  py::array_t<int64_t> offs({static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(T), py::ssize_t{2}});
  int64_t* pi = ids.mutable_data();
  int64_t* pm = mask.mutable_data();
  int64_t* po = offs.mutable_data();
  for (size_t i = 0; i < N; ++i) {
    const auto& e = enc[i];
    for (size_t j = 0; j < T; ++j) {
      pi[i * T + j] = e.ids[j];
      pm[i * T + j] = e.attention_mask[j];
      po[(i * T + j) * 2] = e.offsets[j].first;
      po[(i * T + j) * 2 + 1] = e.offsets[j].second;
    }
  }
  py::dict d;
  d["input_ids"] = ids;
  d["attention_mask"] = mask;
  d["offsets"] = offs;
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// annotate (tern infer over a file)

py::dict annotate(const std::vector<std::string>& models, const std::string& input, const std::string& output,
                  const std::string& format, const std::string& input_format, const std::string& text_field,
                  const std::string& id_field, const std::vector<std::string>& keep_fields, bool with_logits,
                  const std::string& embeddings, const std::string& embeddings_out, const std::string& errors,
                  bool resume, const std::string& encoding, const std::string& invalid_utf8,
                  int64_t max_line_bytes, std::optional<bool> normalize_tweets,
                  std::optional<int64_t> max_length, int64_t window, int64_t batch_size, int threads,
                  py::object progress) {
  namespace ti = tern::infer;
  ti::AnnotateOptions o;
  guarded(PyExc_ValueError, [&] {
    o.format = ti::output_format_from_name(format);
    o.reader.format = ti::input_format_from_name(input_format);
    o.embeddings = ti::pool_from_name(embeddings);
    TERN_CHECK(invalid_utf8 == "error" || invalid_utf8 == "replace",
               "invalid_utf8 must be 'error' or 'replace', got '" << invalid_utf8 << "'");
    TERN_CHECK(max_line_bytes >= 1, "max_line_bytes must be >= 1, got " << max_line_bytes);
    TERN_CHECK(threads >= 0, "threads must be >= 0, got " << threads);
  });
  o.models = models;
  o.input = input;
  o.output = output;
  o.reader.encoding = encoding;
  o.reader.invalid_utf8 = invalid_utf8 == "replace" ? ti::InvalidUtf8::Replace : ti::InvalidUtf8::Error;
  o.reader.max_line_bytes = max_line_bytes;
  o.text_field = text_field;
  o.id_field = id_field;
  o.keep_fields = keep_fields;
  o.logits = with_logits;
  o.embeddings_out = embeddings_out;
  o.errors = errors;
  o.resume = resume;
  o.window = window;
  o.batch_size = batch_size;
  o.model.normalize_tweets = normalize_tweets;
  o.model.max_length = max_length;
  ti::ProgressFn fn;
  if (!progress.is_none()) {
    fn = [&](const ti::AnnotateProgress& p) {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C in a notebook stops the run
      py::dict d;
      d["rows"] = p.rows;
      d["bad_rows"] = p.bad_rows;
      d["bytes_read"] = p.bytes_read;
      d["total_bytes"] = p.total_bytes;
      d["seconds"] = p.seconds;
      progress(d);
    };
  } else {
    fn = [](const ti::AnnotateProgress&) {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    };
  }
  // A model that cannot be loaded is a BadModelError: load each once here (annotate loads them again from
  // the page cache; a model file is mapped, not copied), then the run itself (unreadable input,
  // unwritable output) is a tern.Error.
  guarded(g_bad_model, [&] {
    py::gil_scoped_release nogil;
    for (const auto& n : models.empty() ? std::vector<std::string>{ti::default_model_name()} : models)
      (void)InferModel::load(n, o.model);
  });
  // The input's problems (missing, unreadable, damaged gzip, a bad header: the reader names the input
  // first) are a BadInputError; any other fatal error (the output cannot be written, ...) a tern.Error.
  ti::AnnotateSummary s;
  std::string input_error;
  guarded(g_error, [&] {
    py::gil_scoped_release nogil;
    tern::set_num_threads(threads);
    try {
      s = ti::annotate(o, fn);
    } catch (const tern::Error& e) {
      const std::string w = e.what(), in = input == "-" ? "<stdin>" : input;
      if (w.rfind(in + ":", 0) != 0) throw;
      input_error = w;
    }
  });
  if (!input_error.empty()) raise(g_bad_input, input_error);
  py::dict d;
  d["rows"] = s.rows;
  d["resumed_rows"] = s.resumed_rows;
  d["bad_rows"] = s.bad_rows;
  d["replaced"] = s.replaced;
  d["seconds"] = s.seconds;
  d["output"] = s.output;
  d["errors"] = s.errors;
  d["models"] = s.model_names;
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// train (tern train): typed options in, reporter calls out to a Python callback (with the GIL).

class PyReporter : public tern::train::TrainReporter {
 public:
  explicit PyReporter(py::object cb) : cb_(std::move(cb)) {}
  void call(py::dict d) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C stops training
    if (!cb_.is_none()) cb_(d);
  }
  void note(const std::string& m) override {
    py::gil_scoped_acquire gil;
    py::dict d;
    d["event"] = "note";
    d["message"] = m;
    call(d);
  }
  void plan(const tern::train::PlanReport& r) override {
    py::gil_scoped_acquire gil;
    py::dict d;
    d["event"] = "plan";
    d["rows"] = r.rows;
    d["labels"] = r.labels;
    d["total_steps"] = r.total_steps;
    d["steps_per_epoch"] = r.steps_per_epoch;
    d["warmup_steps"] = r.warmup_steps;
    d["trainable_params"] = r.trainable_params;
    d["threads"] = r.threads;
    call(d);
  }
  void batch_done(int64_t batches, int64_t rows, double loss) override {
    py::gil_scoped_acquire gil;
    py::dict d;
    d["event"] = "batch";
    d["batches"] = batches;
    d["rows"] = rows;
    d["loss"] = loss;
    call(d);
  }
  void epoch_end(const tern::train::EpochReport& r) override {
    py::gil_scoped_acquire gil;
    py::dict d;
    d["event"] = "epoch";
    d["epoch"] = r.epoch;
    d["epochs"] = r.epochs;
    d["train_loss"] = r.train_loss;
    d["steps"] = r.steps;
    d["tweets_per_s"] = r.tweets_per_s;
    d["saved_best"] = r.saved_best;
    d["val"] = r.val ? py::object(py::str(r.val->json)) : py::object(py::none());
    d["test"] = r.test ? py::object(py::str(r.test->json)) : py::object(py::none());
    call(d);
  }

 private:
  py::object cb_;
};

py::dict train(const std::string& model, const std::string& train_path, const std::string& out,
               const std::string& val, const std::string& test, const std::string& task,
               const std::vector<std::string>& labels, const std::string& text_field,
               const std::vector<std::string>& label_fields, bool skip_bad_rows, bool normalize_tweets,
               int64_t max_length, int64_t batch_size, int64_t epochs, int64_t grad_accum, double lr,
               double warmup, bool warmup_is_fraction, double weight_decay, bool no_decay_bias_ln,
               uint64_t seed, double clip, int64_t freeze_layers, bool head_only,
               std::optional<double> dropout, const std::string& loss, double label_smoothing,
               const std::string& class_weights_mode, const std::vector<float>& class_weights,
               const std::string& target_scale, const std::string& metric, int64_t early_stopping,
               std::optional<int64_t> max_steps, const std::string& save_last, const std::string& resume,
               int64_t eval_batch_size, int threads, py::object callback) {
  namespace tt = tern::train;
  tt::TrainOptions c;
  guarded(PyExc_ValueError, [&] {
    c.task = tt::task_from_name(task);
    if (!loss.empty()) c.loss = tt::loss_from_name(loss);
    c.target_scale = tt::TargetScaler::kind_from_name(target_scale);
    if (!metric.empty()) c.metric = tt::metric_from_name(metric);
  });
  c.model_path = model;
  c.train_path = train_path;
  c.out_path = out;
  c.val_path = val;
  c.test_path = test;
  c.labels = labels;
  c.read.text_field = text_field;
  c.read.label_fields = label_fields;
  c.read.skip_bad_rows = skip_bad_rows;
  c.normalize_tweets = normalize_tweets;
  c.max_length = max_length;
  c.batch_size = batch_size;
  c.epochs = epochs;
  c.grad_accum = grad_accum;
  c.lr = lr;
  c.warmup = warmup_is_fraction ? tt::WarmupSpec::fraction(warmup)
                                : tt::WarmupSpec::steps(static_cast<int64_t>(warmup));
  c.weight_decay = weight_decay;
  c.no_decay_bias_ln = no_decay_bias_ln;
  c.seed = seed;
  c.clip = clip;
  c.freeze_layers = freeze_layers;
  c.head_only = head_only;
  if (dropout) c.dropout = tt::DropoutSpec::everywhere(static_cast<float>(*dropout));
  c.label_smoothing = static_cast<float>(label_smoothing);
  c.class_weights.balanced = class_weights_mode == "balanced";
  c.class_weights.values = class_weights;
  c.early_stopping = early_stopping;
  c.max_steps = max_steps;
  c.save_last_path = save_last;
  c.resume_path = resume;
  c.eval_batch_size = eval_batch_size;
  c.command_line = "tern.train (Python)";
  PyReporter rep(std::move(callback));
  tt::TrainSummary s;
  // Bad options and data (a file that cannot be read, a bad row) are tern.Error with the CLI's messages;
  // a model that cannot be loaded is found first and is a BadModelError.
  if (resume.empty())
    guarded(g_bad_model, [&] {
      py::gil_scoped_release nogil;
      tern::LoadOptions lo;
      lo.read_tensors = false;
      (void)tern::load_model(tern::infer::resolve_model(model), lo);
    });
  guarded(g_error, [&] {
    py::gil_scoped_release nogil;
    tern::set_num_threads(threads);
    tt::Trainer t(c, &rep);
    s = t.run();
  });
  py::dict d;
  d["best_epoch"] = s.best_epoch;
  d["metric"] = s.metric;
  d["seconds"] = s.seconds;
  d["out"] = out;
  d["val"] = s.val_json.empty() ? py::object(py::none()) : py::object(py::str(s.val_json));
  d["test"] = s.test_json.empty() ? py::object(py::none()) : py::object(py::str(s.test_json));
  return d;
}

}  // namespace

PYBIND11_MODULE(_tern, m) {
  m.doc() = "tern's C++ core (pybind11). Use the `tern` package, not this module.";

  g_error = PyErr_NewExceptionWithDoc(
      "tern.Error",
      "Every error tern reports; the message is the one the tern CLI prints (it names the file, line, "
      "tensor or argument).",
      PyExc_RuntimeError, nullptr);
  py::tuple bad_input_bases = py::make_tuple(py::handle(g_error), py::handle(PyExc_ValueError));
  g_bad_input = PyErr_NewExceptionWithDoc(
      "tern.BadInputError",
      "Bad texts or input files: not a string, unreadable, malformed (also a ValueError).",
      bad_input_bases.ptr(), nullptr);
  g_bad_model = PyErr_NewExceptionWithDoc(
      "tern.BadModelError",
      "A model or tokenizer that cannot be loaded: missing file, unknown shipped name, damaged or "
      "mis-shaped tensors, no tokenizer.",
      g_error, nullptr);
  m.attr("Error") = py::handle(g_error);
  m.attr("BadInputError") = py::handle(g_bad_input);
  m.attr("BadModelError") = py::handle(g_bad_model);
  // Anything else tern throws (outside the guarded calls) is a tern.Error.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const tern::Error& e) {
      PyErr_SetString(g_error, e.what());
    } catch (const tern::tok::TokenizerError& e) {
      PyErr_SetString(g_error, e.what());
    }
  });

  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::string&, int, int64_t, std::optional<int64_t>, std::optional<bool>, int64_t>(),
           py::arg("name_or_path"), py::arg("threads") = 0, py::arg("batch_size") = 32,
           py::arg("max_length") = py::none(), py::arg("normalize_tweets") = py::none(),
           py::arg("window") = 4096)
      .def_property_readonly("info", [](const PyModel& m) { return info_dict(m.info()); })
      .def_property_readonly("threads", &PyModel::threads)
      .def_property_readonly("batch_size", &PyModel::batch_size)
      .def_property_readonly("window", &PyModel::window)
      .def("predict_json", &predict_json, py::arg("texts"), py::arg("logits") = false,
           "JSON array of rows (tern infer's rows without the id), one per text.")
      .def("logits", &logits, py::arg("texts"), "(N, L) float32 raw head outputs.")
      .def("embed", &embed, py::arg("texts"), py::arg("pool") = "cls", "(N, C) float32 pooled embeddings.")
      .def_property_readonly("tokenizer", [](const PyModel& m) {
        auto im = m.model();
        return PyTokenizer{std::shared_ptr<const tern::tok::Tokenizer>(im, &im->tokenizer()),
                           im->info().path};
      });

  py::class_<PyTokenizer>(m, "Tokenizer")
      .def_static("from_model", &tokenizer_from_model, py::arg("name_or_path"))
      .def_static("from_dir", &tokenizer_from_dir, py::arg("dir"))
      .def_readonly("origin", &PyTokenizer::origin)
      .def_property_readonly("model_type", [](const PyTokenizer& t) { return t.tok->model_type(); })
      .def_property_readonly("vocab_size", [](const PyTokenizer& t) { return t.tok->vocab_size(); })
      .def_property_readonly("pad_id", [](const PyTokenizer& t) { return t.tok->pad_id(); })
      .def("token_to_id", [](const PyTokenizer& t, const std::string& s) { return t.tok->token_to_id(s); })
      .def("id_to_token", [](const PyTokenizer& t, int32_t id) { return t.tok->id_to_token(id); })
      .def("encode", &tokenizer_encode, py::arg("texts"), py::arg("max_length") = py::none(),
           py::arg("normalize_tweets") = false, py::arg("threads") = 0);

  m.def("annotate", &annotate, py::arg("models"), py::arg("input"), py::arg("output"), py::arg("format"),
        py::arg("input_format"), py::arg("text_field"), py::arg("id_field"), py::arg("keep_fields"),
        py::arg("logits"), py::arg("embeddings"), py::arg("embeddings_out"), py::arg("errors"),
        py::arg("resume"), py::arg("encoding"), py::arg("invalid_utf8"), py::arg("max_line_bytes"),
        py::arg("normalize_tweets"), py::arg("max_length"), py::arg("window"), py::arg("batch_size"),
        py::arg("threads"), py::arg("progress"));
  m.def("train", &train, py::arg("model"), py::arg("train"), py::arg("out"), py::arg("val"), py::arg("test"),
        py::arg("task"), py::arg("labels"), py::arg("text_field"), py::arg("label_fields"),
        py::arg("skip_bad_rows"), py::arg("normalize_tweets"), py::arg("max_length"), py::arg("batch_size"),
        py::arg("epochs"), py::arg("grad_accum"), py::arg("lr"), py::arg("warmup"),
        py::arg("warmup_is_fraction"), py::arg("weight_decay"), py::arg("no_decay_bias_ln"), py::arg("seed"),
        py::arg("clip"), py::arg("freeze_layers"), py::arg("head_only"), py::arg("dropout"), py::arg("loss"),
        py::arg("label_smoothing"), py::arg("class_weights_mode"), py::arg("class_weights"),
        py::arg("target_scale"), py::arg("metric"), py::arg("early_stopping"), py::arg("max_steps"),
        py::arg("save_last"), py::arg("resume"), py::arg("eval_batch_size"), py::arg("threads"),
        py::arg("callback"));
  m.def("shipped_models", [] { return tern::infer::shipped_models(); });
  m.def("model_search_path", [] { return tern::infer::model_search_path(); });
  m.def("default_model_name", [] { return std::string(tern::infer::default_model_name()); });
  m.def("resolve_model", [](const std::string& n) {
    return guarded(g_bad_model, [&] { return tern::infer::resolve_model(n); });
  });
}
