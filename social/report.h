// `tern report`: one self-contained HTML file (inline SVG drawn by inline script, no network) with the trend
// volumes, the metrics table, top accounts, duplicate clusters, labels over time (from tern infer
// predictions) and the interactive coordination graph.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "social/archive.h"
#include "social/coordinate.h"
#include "social/trends.h"

namespace tern::social {

struct ReportOptions {
  std::string title = "tern report";
  int top_trends = 8;                 // trends drawn in the charts
  int64_t max_graph_accounts = 300;   // the coordination graph shows the strongest accounts only
  std::string predictions;            // tern infer JSONL: joined by "id" when present, else line by line
  std::string label_field = "label";  // predicted label's field in the predictions
};

struct ReportSummary {
  int64_t tweets = 0;
  int64_t bad_rows = 0;
  int64_t trends = 0;
  int64_t coordinated_accounts = 0;
  int64_t predictions_joined = 0;
};

ReportSummary write_report(const std::vector<std::string>& inputs, const ArchiveOptions& archive,
                           const TrendOptions& trends, CoordOptions coord, const ReportOptions& opt,
                           BadRowWriter& bad_rows, const std::string& out_html);

}  // namespace tern::social
