// Engagement prediction (`tern engagement train|eval|predict`, docs/engagement.md): tweet tables in,
// per-tweet predicted likes / retweets / replies out. Reading (columns named by options, several time
// formats, bad rows counted), look-ahead-free features (the encoder's pooled embedding, the shipped social
// models' probabilities, time features, the author's recent engagement), and four models per target:
// the author's training median, ridge regression (Eigen, closed form), an MLP and a small transformer
// encoder over the author's previous tweets (tern's own small layers, forward and backward side by side).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tern::social::eng {

// ---- Reading ----

// One target: its output name and the columns that may hold it (first present wins).
struct TargetSpec {
  std::string name;
  std::vector<std::string> columns;
};
// "likes,retweets,replies" (known names get the usual column names: like_count, likes, favorite_count,
// favorites, nlikes, likes_count, likeCount, ...) or "likes=favorites" / "likes=nlikes|likes_count".
// Throws tern::Error naming the spec when it is empty or malformed.
std::vector<TargetSpec> parse_targets(const std::string& spec);

// Unix seconds (UTC) of a time text, or INT64_MIN when it cannot be read. `format` empty: ISO 8601,
// "YYYY-MM-DD HH:MM[:SS]", Twitter's "Wed Oct 10 20:19:24 +0000 2018", "M/D/YYYY H:MM", epoch seconds or
// milliseconds (also "1275676317000.0"), and "YYYY-MM-DD HH:MM:SS <zone name>" (naive). Else a strptime-
// style format: %Y %m %d %H %M %S %y %b %a %z %Z(skipped word) %s %% and literal characters; text after
// the format's end is an error. `naive` (optional) is set when the text carried no zone / offset.
int64_t parse_time_text(const std::string& s, const std::string& format = "", bool* naive = nullptr);
// "+0400", "-05:30", "+04" -> seconds east of UTC; false when not an offset.
bool parse_utc_offset(const std::string& s, int64_t& seconds);

struct TableOptions {
  std::string text_field;        // "": the first of text, full_text, tweet, rawContent, content
  std::string time_field;        // "": the first of created_at, date, timestamp, time, datetime
  std::string time_format;       // "": the recognised formats (parse_time_text)
  std::string utc_offset_field;  // column with "+0400": applied to naive times (twint's local times)
  std::string author_field;      // "": one account
  std::string id_field;          // "": the first of id, id_str, tweet_id (duplicates: the last read wins)
  std::vector<TargetSpec> targets;
  bool exclude_retweets = false;  // drop texts starting with "RT @"
  bool require_targets = true;    // false (predict): a row without targets is kept
  std::string format = "auto", encoding;
  bool replace_invalid_utf8 = false;
};

struct Row {
  std::string id, text, author;
  int64_t time = 0;
  std::vector<double> y;  // per target; NaN when absent (predict only)
  std::string file;
  int64_t line = 0;
};

// What happened to every row read: read = used + bad + every skipped kind + duplicates.
struct RowCounts {
  int64_t read = 0, used = 0, bad = 0, replaced = 0, no_text = 0, no_time = 0, no_target = 0,
          retweets_excluded = 0, duplicates = 0;
  nlohmann::json to_json() const;
};

struct BadRow {
  std::string file;
  int64_t line = 0;
  std::string reason;
};

// Reads every table, skips (and counts) unusable rows, drops duplicate ids (the last read is kept), and
// returns the rows sorted by time (ties: input order). `on_bad` gets every row that was not used and why.
std::vector<Row> read_tables(const std::vector<std::string>& paths, const TableOptions& opt,
                             RowCounts& counts, const std::function<void(const BadRow&)>& on_bad = {});

// ---- Features ----

// Context features of each row (rows sorted by time): time of day / week, gap since the author's previous
// tweet, the author's previous `history` tweets' log1p targets (most recent first) and their summaries,
// text surface (length, reply, URL, mentions, hashtags). Row i's features depend only on row i's own time
// and text and on rows before i of the same author (nothing later). (N, context_dim) row-major.
// `trend`: also the number of the author's previous tweets and the days since the first one (they place a
// tweet on the timeline of this data set; a model that uses them does not carry over to another data set).
std::vector<float> context_features(const std::vector<Row>& rows, int history, int64_t& dim,
                                    std::vector<std::string>* names = nullptr, bool trend = true);

// Transformer windows: (N, window) indices of each row's author's previous rows, oldest first, -1 where
// the author has fewer; only rows before i (time order) appear in row i's window.
std::vector<int64_t> previous_rows(const std::vector<Row>& rows, int window);

// The text model features: the encoder's mean-pooled embedding and the probabilities of each extra model.
struct TextFeatureSpec {
  std::string encoder;             // path or shipped name (default: the shipped default model)
  std::vector<std::string> extra;  // more models whose probabilities are features (shipped names / paths)
  int64_t batch_size = 32;
  // A file that keeps the computed features (a sealed .h5 keyed by a hash of the texts, their order and
  // the models): reused when the key matches, else (re)written. "" = none.
  std::string cache;
};
// (N, dim) row-major; progress(done, total) after each window.
std::vector<float> text_features(const std::vector<std::string>& texts, const TextFeatureSpec& spec,
                                 int64_t& dim, const std::function<void(int64_t, int64_t)>& progress = {});
// The shipped social models other than `encoder` (their probabilities are features by default).
std::vector<std::string> default_extra_models(const std::string& encoder);

// ---- Metrics ----
double mae(const std::vector<double>& pred, const std::vector<double>& y);
// mean |log1p(pred) - log1p(y)| (negative predictions count as 0).
double mae_log1p(const std::vector<double>& pred, const std::vector<double>& y);
// Spearman's rho with average ranks for ties (Pearson of the ranks); 0 when either side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

// ---- Models ----

// Ridge on (N, F) row-major features X and targets y: min |X w + b - y|^2 + lambda |w|^2 (b not
// penalised), solved in closed form with Eigen (LDLT of the centred normal equations).
struct RidgeFit {
  std::vector<double> w;
  double b = 0;
};
RidgeFit fit_ridge(const float* X, int64_t N, int64_t F, const double* y, double lambda);

enum class Loss { Mse, Mae, Huber, Quantile };
Loss loss_from_name(const std::string& s);  // mse | mae | huber | quantile
// Loss of one prediction p against z and d loss / d p.
double loss_value(Loss l, double p, double z, double param, double* grad);

// A small network with flat parameters (float32), forward and backward side by side. Input of one sample:
// MLP: (F); transformer: (T, F) tokens, the last one the tweet to predict; mask (T) 1 = present.
class Net {
 public:
  enum class Kind { Mlp, Transformer };
  // MLP: F -> hidden -> hidden/2 -> 1 (ReLU). Transformer: compression F -> d, sinusoidal positions,
  // `layers` encoder layers (single-head self-attention + ReLU FFN of 2d, residual), output d -> 1 read at
  // the last token. Both add a linear path skip . s (wide & deep), zero at initialisation (training starts
  // it at the ridge solution): MLP s = x; transformer s = a row of skip_dim after the tokens (the tweet's
  // full feature row, while the tokens carry the compact context features and engagement of the window).
  // skip_dim (transformer): size of the linear path's input row after the tokens (-1: F).
  Net(Kind kind, int64_t F, int64_t hidden, int64_t T, int layers, uint64_t seed, int64_t skip_dim = -1);
  Kind kind() const { return kind_; }
  int64_t input_dim() const { return F_; }
  int64_t tokens() const { return T_; }
  int64_t hidden() const { return H_; }
  int64_t skip_dim() const { return S_; }
  // Floats of one sample's input: MLP F (the linear path reads the same row); transformer T * F tokens
  // followed by the linear path's row of skip_dim.
  int64_t sample_size() const { return kind_ == Kind::Mlp ? F_ : T_ * F_ + S_; }
  // Prediction for each of B samples: x (B, sample_size()), mask (B, T) (MLP: ignored, may be null).
  void forward(const float* x, const float* mask, int64_t B, float* out) const;
  // Accumulates d(sum_i dout[i] * out[i]) / d params into grad() for the same samples.
  void backward(const float* x, const float* mask, int64_t B, const float* dout);
  std::vector<float>& params() { return p_; }
  const std::vector<float>& params() const { return p_; }
  std::vector<float>& grad() { return g_; }
  // Named slices of params() (for saving): name -> (offset, shape).
  const std::vector<std::pair<std::string, std::pair<int64_t, std::vector<int64_t>>>>& slices() const {
    return slices_;
  }
  void set_output_bias(float b);
  float* param(const std::string& name);  // a named parameter's values (throws when absent)
  nlohmann::json config() const;
  static Net from_config(const nlohmann::json& c);

 private:
  int64_t add(const std::string& name, std::vector<int64_t> shape, double init_scale, uint64_t& rng);
  void sample_forward(const float* x, const float* mask, float* out, struct TfCache* c) const;
  Kind kind_;
  int64_t F_, H_, T_, S_;
  int L_;
  uint64_t seed_;
  std::vector<float> p_, g_;
  std::vector<std::pair<std::string, std::pair<int64_t, std::vector<int64_t>>>> slices_;
  std::map<std::string, int64_t> off_;
};

// ---- Training, evaluation, prediction ----

struct EngageOptions {
  TableOptions table;
  TextFeatureSpec text;
  bool text_models = true;  // false: no embedding / probabilities (context features only; tests, speed)
  int history = 10;         // previous tweets of the author in the history features and the window
  int window = 8;           // transformer: previous tweets as tokens
  double test_fraction = 0.2;
  double val_fraction = 0.15;  // time-ordered validation slice at the end of the training period
  Loss loss = Loss::Huber;
  double loss_param = 1.0;        // Huber delta / quantile tau (0.5 when the quantile loss is chosen)
  std::string scaling = "log1p";  // log1p | robust
  int epochs = 60, patience = 8;
  int64_t batch_size = 64;
  double lr = 1e-3, weight_decay = 1e-4;
  int64_t hidden = 64, d_model = 32;
  int layers = 1;
  uint64_t seed = 1;
  bool ridge_init = true;
  bool token_text = false;  // transformer tokens carry the text features too (default: context only)
  bool refit = true;
  bool trend_features = true;  // context_features' `trend` (see there)  // after early stopping: retrain on
                               // all training rows for the chosen epoch count  // the networks' linear path
                               // starts at ridge's solution (fit rows only)
  std::vector<std::string> models = {"median_baseline", "ridge", "mlp", "transformer"};
};

struct Progress {
  std::function<void(const std::string&)> message;      // a line of progress
  std::function<void(int64_t, int64_t)> text_features;  // embedding windows done / total
};

// Trains every model on the earliest (1 - test_fraction) of the rows, scores them on the rest, saves them
// all to `out` (a sealed tern model file; "" = not saved) and returns the metrics JSON
// {"split", "targets", "rows"}.
nlohmann::json train(const std::vector<std::string>& data, const EngageOptions& opt, const std::string& out,
                     const Progress& progress = {});
// The same metrics for new data with a saved model (every row is test data; history from the data itself).
nlohmann::json evaluate(const std::string& model, const std::vector<std::string>& data,
                        const TableOptions* table_override, const Progress& progress = {});
// One JSON line per used row: {"id", "time", "author"?, TARGET: {MODEL: count, ...}, ...}; returns the
// row counts.
nlohmann::json predict(const std::string& model, const std::vector<std::string>& data,
                       const TableOptions* table_override, const std::string& out_jsonl,
                       const std::string& use_model, const Progress& progress = {});

}  // namespace tern::social::eng
