#include "infer/annotate.h"
#include "infer/memory_trace.h"

#include <unistd.h>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "infer/writer.h"
#include "tensor/check.h"
#include "tensor/tensor.h"
#include "weights/h5_arrays.h"

namespace tern::infer {

using json = nlohmann::json;

OutputFormat output_format_from_name(const std::string& s) {
  if (s == "jsonl" || s == "json") return OutputFormat::Jsonl;
  if (s == "csv") return OutputFormat::Csv;
  if (s == "auto") return OutputFormat::Auto;
  TERN_FAIL("unknown output format '" << s << "' (jsonl or csv)");
}

const std::vector<std::string>& default_text_fields() {
  static const std::vector<std::string> f = {"text",    "full_text", "rawContent",
                                             "content", "tweet",     "data.text"};
  return f;
}
const std::vector<std::string>& default_id_fields() {
  static const std::vector<std::string> f = {"id", "id_str", "tweet_id", "tweet.id", "data.id"};
  return f;
}

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Row {
  int64_t line = 0;
  std::string text;
  std::string id_json, id_cell;  // the id as a JSON value and as a CSV cell
  bool id_integral = false;
  int64_t id_int = 0;
  std::vector<std::string> keep_json, keep_cell;
};

struct Bad {
  int64_t line;
  std::string reason;
};

struct Window {
  std::vector<Row> rows;
  std::vector<Bad> bad;  // bad rows met since the previous window, in input order
  std::vector<Encoded> enc;
  int64_t first_index = 0;  // readable-record index of rows[0]
  int64_t replaced = 0;
  int64_t bytes_read = 0;
  bool end = false;
  std::exception_ptr error;
};

// A bounded hand-over between the reader thread and the compute thread.
class Queue {
 public:
  explicit Queue(size_t cap) : cap_(cap) {}
  void push(Window w) {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return q_.size() < cap_ || stop_; });
    if (stop_) return;
    q_.push_back(std::move(w));
    cv_.notify_all();
  }
  Window pop() {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return !q_.empty(); });
    Window w = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return w;
  }
  void stop() {
    std::lock_guard<std::mutex> l(m_);
    stop_ = true;
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> l(m_);
    return stop_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Window> q_;
  size_t cap_;
  bool stop_ = false;
};

std::string cell_of(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string bad_line_json(const Bad& b) {
  std::string s = "{\"line\":" + std::to_string(b.line) + ",\"reason\":";
  append_json_string(s, b.reason);
  s += "}\n";
  return s;
}

bool parse_int64(const std::string& s, int64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  int64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + (c - '0');
  }
  v = x;
  return true;
}

}  // namespace

AnnotateSummary annotate(const AnnotateOptions& opt, const ProgressFn& progress) {
  const double t0 = now_s();
  TERN_CHECK(opt.window >= 1, "window must be >= 1, got " << opt.window);
  TERN_CHECK(opt.batch_size >= 1, "batch size must be >= 1, got " << opt.batch_size);
  TERN_CHECK(!(opt.resume && opt.output == "-"), "resume needs an output file (not stdout)");
  TERN_CHECK(opt.embeddings == Pool::None || !opt.embeddings_out.empty(),
             "embeddings need an output file for them (embeddings_out)");
  TERN_CHECK(opt.embeddings != Pool::None || opt.embeddings_out.empty(),
             "an embeddings file was given without a pooling (cls or mean)");
  TERN_CHECK(!(opt.resume && opt.embeddings != Pool::None),
             "resume is not supported together with embeddings (the HDF5 file is written at the end)");

  // Models (loaded once, shared); tokenised once per distinct tokenizer.
  std::vector<std::shared_ptr<const InferModel>> models;
  const std::vector<std::string> names =
      opt.models.empty() ? std::vector<std::string>{default_model_name()} : opt.models;
  for (const auto& n : names)
    for (auto& m : InferModel::load_heads(n, opt.model)) models.push_back(m);  // multi-task: one per head
  memory_trace("models loaded");
  if (opt.release_loaded_code) {
    release_loaded_code();
    memory_trace("code released");
  }
  AnnotateSummary sum;
  for (const auto& m : models) {
    for (const auto& o : sum.model_names)
      TERN_CHECK(o != m->info().name, "two models are named '" << o
                                                               << "': each row keys its predictions by "
                                                                  "the model's name, so they must differ");
    sum.model_names.push_back(m->info().name);
  }
  PredictOptions po;
  po.batch_size = opt.batch_size;
  po.batch_tokens = opt.batch_tokens;
  po.pool = opt.embeddings;
  po.tokenize_threads = 1;  // the reader thread tokenises while the models use the other threads
  Predictor pred(models, po);
  memory_trace("predictor");
  const bool multi = models.size() > 1;

  // Output format.
  OutputFormat fmt = opt.format;
  if (fmt == OutputFormat::Auto) {
    const std::string& o = opt.output;
    fmt = o.size() >= 4 && (o.compare(o.size() - 4, 4, ".csv") == 0 ||
                            (o.size() >= 7 && o.compare(o.size() - 7, 7, ".csv.gz") == 0))
              ? OutputFormat::Csv
              : OutputFormat::Jsonl;
  }

  // Output (committed lines) and errors file.
  LineWriter out(opt.output, opt.resume ? LineWriter::Mode::Resume : LineWriter::Mode::Truncate);
  sum.output = out.name();
  int64_t done = out.lines_at_open();
  if (fmt == OutputFormat::Csv && done > 0) --done;  // the header line
  sum.resumed_rows = done;
  std::string errors_path = opt.errors;
  if (errors_path.empty()) errors_path = opt.output == "-" ? "-" : opt.output + ".errors.jsonl";
  std::set<int64_t> known_bad;  // lines already in the errors file (resume): each bad line is named once
  LineWriter errs;
  FILE* errs_stream = nullptr;
  if (errors_path == "-") {
    errs_stream = stderr;
    sum.errors = "<stderr>";
  } else {
    if (opt.resume) {
      const std::string prev = read_complete_lines(errors_path);
      size_t a = 0;
      while (a < prev.size()) {
        const size_t b = prev.find('\n', a);
        try {
          const json j = json::parse(prev.substr(a, b - a));
          if (j.is_object() && j.contains("line") && j["line"].is_number_integer())
            known_bad.insert(j["line"].get<int64_t>());
        } catch (const std::exception&) {
          // a line that is not ours: left as it is
        }
        a = b + 1;
      }
    }
    errs = LineWriter(errors_path, opt.resume ? LineWriter::Mode::Resume : LineWriter::Mode::Truncate);
    sum.errors = errs.name();
  }

  // CSV header.
  const bool csv = fmt == OutputFormat::Csv;
  if (csv && out.lines_at_open() == 0) {
    std::string h = "id";
    for (const auto& k : opt.keep_fields) h += ',', append_csv_cell(h, k);
    for (const auto& m : models)
      for (const auto& c : prediction_csv_columns(m->info(), opt.logits, multi ? m->info().name + "." : ""))
        h += ',', append_csv_cell(h, c);
    h += '\n';
    out.write(h);
  }

  // ---- Reader thread: records -> windows of tokenised rows ----
  RecordReader reader(opt.input, opt.reader);
  const int64_t W = opt.window;
  const int64_t start_window = done / W;  // resume: recompute the window the committed rows end in
  const int64_t skip_rows = start_window * W;
  Queue q(2);
  std::thread th([&] {
    Window w;
    int64_t index = 0;  // readable records so far
    w.first_index = skip_rows;
    try {
      Record r;
      while (!q.stopped() && reader.next(r)) {
        if (!r.error.empty()) {
          w.bad.push_back({r.line, r.error});
          continue;
        }
        const json& j = r.json();
        // Text.
        const std::string tf =
            opt.text_field.empty() ? first_present_field(j, default_text_fields()) : opt.text_field;
        const json* t = tf.empty() ? nullptr : find_field(j, tf);
        if (!t) {
          std::string names_list;
          if (opt.text_field.empty())
            for (const auto& f : default_text_fields()) names_list += (names_list.empty() ? "" : ", ") + f;
          w.bad.push_back({r.line, opt.text_field.empty() ? "no text field (looked for " + names_list + ")"
                                                          : "no text field '" + opt.text_field + "'"});
          continue;
        }
        if (!t->is_string()) {
          w.bad.push_back({r.line, "text field '" + tf + "' is " +
                                       (t->is_null() ? "null" : std::string("a ") + t->type_name()) +
                                       ", not a string"});
          continue;
        }
        // Id.
        Row row;
        row.line = r.line;
        const std::string idf =
            opt.id_field.empty() ? first_present_field(j, default_id_fields()) : opt.id_field;
        const json* id = idf.empty() ? nullptr : find_field(j, idf);
        if (!id && !opt.id_field.empty()) {
          w.bad.push_back({r.line, "no id field '" + opt.id_field + "'"});
          continue;
        }
        if (id && !id->is_null()) {
          row.id_json = id->dump(-1, ' ', false, json::error_handler_t::replace);
          row.id_cell = cell_of(*id);
          if (id->is_number_integer())
            row.id_integral = true, row.id_int = id->get<int64_t>();
          else if (id->is_string())
            row.id_integral = parse_int64(id->get<std::string>(), row.id_int);
        } else {
          row.id_json = row.id_cell = std::to_string(r.line);
          row.id_integral = true, row.id_int = r.line;
        }
        for (const auto& k : opt.keep_fields) {
          const json* v = find_field(j, k);
          row.keep_json.push_back(v ? v->dump(-1, ' ', false, json::error_handler_t::replace) : "null");
          row.keep_cell.push_back(v ? cell_of(*v) : "");
        }
        const int64_t my_index = index++;
        if (my_index < skip_rows) continue;  // committed in full by an earlier run
        row.text = t->get<std::string>();
        w.replaced += r.utf8_replaced;
        w.rows.push_back(std::move(row));
        if (static_cast<int64_t>(w.rows.size()) == W) {
          std::vector<std::string> texts;
          texts.reserve(w.rows.size());
          for (auto& rw : w.rows) texts.push_back(std::move(rw.text));
          w.enc = pred.encode(texts);
          w.bytes_read = reader.bytes_read();
          const int64_t next_first = w.first_index + W;
          q.push(std::move(w));
          w = Window();
          w.first_index = next_first;
        }
      }
      std::vector<std::string> texts;
      for (auto& rw : w.rows) texts.push_back(std::move(rw.text));
      if (!texts.empty()) w.enc = pred.encode(texts);
      w.bytes_read = reader.bytes_read();
      w.end = true;
      q.push(std::move(w));
    } catch (...) {
      // An unreadable input (I/O error, damaged gzip stream): the rows read before it still go out, then
      // the error ends the run.
      w.error = std::current_exception();
      w.end = true;
      try {
        std::vector<std::string> texts;
        for (auto& rw : w.rows) texts.push_back(std::move(rw.text));
        if (!texts.empty()) w.enc = pred.encode(texts);
      } catch (...) {
        w.rows.clear();
      }
      q.push(std::move(w));
    }
  });

  // ---- Compute + write, in input order ----
  std::vector<float> emb;
  std::vector<int64_t> emb_lines, emb_ids;
  bool ids_integral = true;
  int64_t C = models[0]->info().hidden;
  AnnotateProgress pr;
  pr.total_bytes = reader.total_bytes();
  std::exception_ptr failure;
  try {
    for (;;) {
      Window w = q.pop();
      // Bad rows of this stretch of input first (each line named once over resumed runs).
      std::string eb;
      for (const Bad& b : w.bad) {
        ++sum.bad_rows;
        if (known_bad.count(b.line)) continue;
        if (errs_stream) {
          const std::string s = bad_line_json(b);
          std::fwrite(s.data(), 1, s.size(), errs_stream);
        } else {
          eb += bad_line_json(b);
        }
      }
      if (!eb.empty()) errs.write(eb);
      if (!w.rows.empty()) {
        const std::vector<ModelResult> res = pred.run(w.enc);
        std::string buf;
        const int64_t n = static_cast<int64_t>(w.rows.size());
        for (int64_t i = 0; i < n; ++i) {
          if (w.first_index + i < done) continue;  // already committed (resume)
          const Row& row = w.rows[static_cast<size_t>(i)];
          if (csv) {
            append_csv_cell(buf, row.id_cell);
            for (const auto& k : row.keep_cell) buf += ',', append_csv_cell(buf, k);
            for (size_t mi = 0; mi < models.size(); ++mi) {
              const ModelInfo& info = models[mi]->info();
              if (info.kind == OutputKind::Encoder) continue;
              buf += ',';
              append_prediction_csv(buf, info,
                                    res[mi].logits.data() + i * static_cast<int64_t>(info.labels.size()),
                                    opt.logits);
            }
          } else {
            buf += "{\"id\":";
            buf += row.id_json;
            for (size_t k = 0; k < opt.keep_fields.size(); ++k) {
              buf += ',';
              append_json_string(buf, opt.keep_fields[k]);
              buf += ':';
              buf += row.keep_json[k];
            }
            for (size_t mi = 0; mi < models.size(); ++mi) {
              const ModelInfo& info = models[mi]->info();
              if (info.kind == OutputKind::Encoder) continue;
              buf += ',';
              if (multi) {
                append_json_string(buf, info.name);
                buf += ":{";
              }
              append_prediction_json(buf, info,
                                     res[mi].logits.data() + i * static_cast<int64_t>(info.labels.size()),
                                     opt.logits);
              if (multi) buf += '}';
            }
            buf += '}';
          }
          buf += '\n';
          if (opt.embeddings != Pool::None) {
            const float* e = res[0].embeddings.data() + i * C;
            emb.insert(emb.end(), e, e + C);
            emb_lines.push_back(row.line);
            emb_ids.push_back(row.id_int);
            ids_integral = ids_integral && row.id_integral;
          }
          ++sum.rows;
        }
        out.write(buf);
        sum.replaced += w.replaced;
        memory_trace("window " + std::to_string(w.first_index / W) + " written");
      }
      pr.rows = sum.rows;
      pr.bad_rows = sum.bad_rows;
      pr.bytes_read = w.bytes_read;
      pr.seconds = now_s() - t0;
      if (progress) progress(pr);
      if (w.error) std::rethrow_exception(w.error);
      if (w.end) break;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  q.stop();
  // Drain so that the reader thread can finish its push.
  th.join();
  if (failure) std::rethrow_exception(failure);

  memory_trace("end");
  out.close();
  errs.close();
  if (errs_stream) std::fflush(errs_stream);
  if (opt.embeddings != Pool::None) {
    const int64_t N = static_cast<int64_t>(emb_lines.size());
    TensorMap arrays;
    arrays["embeddings"] = N > 0 ? Tensor::from_data(emb.data(), {N, C}) : Tensor::zeros({0, C});
    arrays["lines"] = Tensor::from_data(emb_lines.data(), {N});
    if (ids_integral) arrays["ids"] = Tensor::from_data(emb_ids.data(), {N});
    write_h5_arrays(opt.embeddings_out, arrays,
                    {{"pooling", opt.embeddings == Pool::Cls ? "cls" : "mean"},
                     {"model", models[0]->info().name},
                     {"input", reader.name()}});
  }
  sum.seconds = now_s() - t0;
  return sum;
}

}  // namespace tern::infer
