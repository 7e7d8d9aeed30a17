// Running a peer benchmark (PyTorch, ONNX Runtime: bench/*_peer.py) in the same run as tern's own.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace tern::bench {

// Runs `cmd`, echoing its output, and returns its "RESULT <key words...> <median ms>" lines as
// "<key words...>" -> ms (e.g. "ort mini 32x32" -> 25.9).
inline std::map<std::string, double> run_peer(const std::string& cmd) {
  std::printf("peer: %s\n", cmd.c_str());
  std::fflush(stdout);
  std::map<std::string, double> r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char line[1024];
  while (std::fgets(line, sizeof line, p)) {
    std::fputs(line, stdout);
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string t; in >> t;) w.push_back(t);
    if (w.size() < 3 || w[0] != "RESULT") continue;
    std::string key;
    for (size_t i = 1; i + 1 < w.size(); ++i) key += (i > 1 ? " " : "") + w[i];
    r[key] = std::strtod(w.back().c_str(), nullptr);
  }
  const int rc = pclose(p);
  if (rc != 0) std::printf("peer: exited with status %d\n", rc);
  return r;
}

}  // namespace tern::bench
