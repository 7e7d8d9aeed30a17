// Archive schemas -> Tweet. One code path for every format: each Tweet field is looked up under the
// user's --map name or, failing that, the common names of snscrape, Twitter API v2 / v1.1 and CSV exports.
#include "social/archive.h"

#include <cctype>
#include <deque>
#include <set>

#include <nlohmann/json.hpp>

#include "infer/record_reader.h"
#include "tensor/check.h"

namespace tern::social {

using nlohmann::json;

namespace {

const std::vector<std::string> kFields = {"id",        "text",           "time",  "author",   "author_id",
                                          "hashtags",  "mentions",       "urls",  "reply_to", "quoted",
                                          "retweeted", "retweet_flag",   "likes", "retweets", "replies",
                                          "quotes",    "account_created"};

// Common names, first match wins. Nested objects are looked up by dotted path.
const std::map<std::string, std::vector<std::string>> kCandidates = {
    {"id", {"id_str", "id", "tweet_id", "status_id"}},
    {"text", {"rawContent", "full_text", "content", "text", "tweet", "renderedContent"}},
    {"time", {"date", "created_at", "publish_date", "timestamp", "time", "datetime", "created"}},
    {"author",
     {"user.username", "user.screen_name", "author.username", "screen_name", "username", "user_screen_name",
      "author", "user_name", "user"}},
    {"author_id", {"user.id_str", "user.id", "author_id", "user_id", "author.id", "userid"}},
    {"hashtags", {"hashtags", "entities.hashtags"}},
    {"mentions", {"mentionedUsers", "entities.user_mentions", "entities.mentions", "mentions"}},
    {"urls", {"links", "outlinks", "entities.urls", "expanded_urls", "urls"}},
    {"reply_to",
     {"inReplyToTweetId", "in_reply_to_status_id_str", "in_reply_to_status_id", "in_reply_to_tweet_id",
      "reply_to"}},
    {"quoted",
     {"quotedTweet.id", "quoted_status_id_str", "quoted_status.id_str", "quoted_id", "quoted_status_id"}},
    {"retweeted",
     {"retweetedTweet.id", "retweeted_status.id_str", "retweeted_status.id", "retweeted_id",
      "retweeted_status_id"}},
    {"retweet_flag", {"is_retweet", "retweet"}},
    {"likes",
     {"likeCount", "public_metrics.like_count", "favorite_count", "like_count", "likes", "nlikes",
      "favorites"}},
    {"retweets", {"retweetCount", "public_metrics.retweet_count", "retweet_count", "retweets", "nretweets"}},
    {"replies", {"replyCount", "public_metrics.reply_count", "reply_count", "replies", "nreplies"}},
    {"quotes", {"quoteCount", "public_metrics.quote_count", "quote_count", "quotes", "nquotes"}},
    {"account_created",
     {"user.created", "user.created_at", "author.created_at", "user_created_at", "account_created_at",
      "user_created"}},
};

const json* lookup(const json& obj, const std::string& name) {
  auto it = obj.find(name);
  if (it != obj.end()) return &*it;
  if (name.find('.') == std::string::npos) return nullptr;
  return infer::find_field(obj, name);
}

bool is_blank(const json* v) {
  return !v || v->is_null() || (v->is_string() && v->get_ref<const std::string&>().empty());
}

std::string scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return std::to_string(static_cast<int64_t>(d));
    return v.dump();
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return "";
}

// String items of a list field: a JSON array (strings, or objects with a tag / url / name member) or a
// cell like "['a', 'b']", "a b", "a,b".
std::vector<std::string> items(const json& v, const char* const* members, bool url_like) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& e : v) {
      if (e.is_string()) {
        out.push_back(e.get<std::string>());
      } else if (e.is_object()) {
        for (const char* const* m = members; *m; ++m) {
          auto it = e.find(*m);
          if (it != e.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
            out.push_back(it->get<std::string>());
            break;
          }
        }
      }
    }
    return out;
  }
  if (!v.is_string()) return out;
  const std::string& s = v.get_ref<const std::string&>();
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  for (char c : s) {
    bool sep = url_like ? (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '[' || c == ']' ||
                           c == '\'' || c == '"')
                        : !(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80));
    if (sep)
      flush();
    else
      cur += c;
  }
  flush();
  return out;
}

int64_t count_value(const json& v) {
  if (v.is_number()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty()) return -1;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str()) return -1;
    return static_cast<int64_t>(d);
  }
  return -1;
}

bool truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (!v.is_string()) return false;
  std::string s = to_lower(v.get<std::string>());
  return s == "1" || s == "true" || s == "yes" || s == "r" || s == "retweet" || s == "retweeted";
}

}  // namespace

void parse_field_map(const std::string& spec, ArchiveOptions& opt) {
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    TERN_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < item.size(),
               "--map: expected field=column, got '" << item << "'");
    std::string field = item.substr(0, eq);
    bool known = false;
    for (const auto& f : kFields) known |= f == field;
    if (!known) {
      std::string list;
      for (const auto& f : kFields) list += " " + f;
      TERN_FAIL("--map: unknown field '" << field << "' (fields:" << list << ")");
    }
    opt.map[field] = item.substr(eq + 1);
  }
}

struct ArchiveReader::Impl {
  std::unique_ptr<infer::RecordReader> reader;
  infer::Record rec;
  ArchiveOptions opt;
  std::deque<std::pair<json, int64_t>> queue;  // API v2 responses with several tweets in "data"
  json includes;                               // of the current v2 response

  // CSV / TSV: every row has the same columns, so each field's column is resolved once per file.
  bool fixed_columns = false;
  std::map<std::string, std::string> resolved;  // field -> column ("" = none)

  const json* field_uncached(const json& obj, const std::string& f) const {
    auto m = opt.map.find(f);
    if (m != opt.map.end()) {
      const json* v = lookup(obj, m->second);
      return is_blank(v) ? nullptr : v;
    }
    for (const auto& name : kCandidates.at(f)) {
      const json* v = lookup(obj, name);
      if (is_blank(v) || v->is_object()) continue;
      if (f == "author" && name == "user" && !v->is_string()) continue;
      return v;
    }
    return nullptr;
  }

  const json* field(const json& obj, const std::string& f) {
    if (!fixed_columns) return field_uncached(obj, f);
    auto it = resolved.find(f);
    if (it == resolved.end()) {
      // The first column that names the field (a blank cell in the first row does not hide it).
      std::string col;
      auto m = opt.map.find(f);
      if (m != opt.map.end()) {
        col = m->second;
      } else {
        for (const auto& name : kCandidates.at(f))
          if (obj.contains(name)) {
            col = name;
            break;
          }
      }
      it = resolved.emplace(f, col).first;
    }
    if (it->second.empty()) return nullptr;
    auto v = obj.find(it->second);
    return v == obj.end() || is_blank(&*v) ? nullptr : &*v;
  }

  // Fills t from one tweet object; returns a reason on failure.
  std::string convert(const json& o, Tweet& t) {
    t = Tweet{};
    t.file = reader->name();
    if (const json* v = field(o, "id")) t.id = scalar(*v);
    const json* text = field(o, "text");
    if (!text || !text->is_string()) return "no text field";
    t.text = text->get<std::string>();
    if (const json* v = field(o, "author")) t.author_name = scalar(*v);
    if (const json* v = field(o, "author_id")) t.author_id = scalar(*v);
    // API v2: the author's username and creation date from the response's includes.users.
    if (includes.is_object() && !t.author_id.empty()) {
      auto users = includes.find("users");
      if (users != includes.end() && users->is_array())
        for (const auto& u : *users)
          if (u.is_object() && u.value("id", std::string()) == t.author_id) {
            if (t.author_name.empty()) t.author_name = u.value("username", std::string());
            if (u.contains("created_at") && u["created_at"].is_string())
              t.account_created = parse_time(u["created_at"].get<std::string>());
          }
    }
    if (t.author_id.empty() && t.author_name.empty()) return "no author field";
    const json* tv = field(o, "time");
    if (!tv) return "no time field";
    std::string ts = scalar(*tv);
    t.time = parse_time(ts);
    if (t.time == kNoTime) return "unparseable time '" + ts + "'";

    static const char* const kTagMembers[] = {"tag", "text", nullptr};
    static const char* const kUserMembers[] = {"username", "screen_name", nullptr};
    static const char* const kUrlMembers[] = {"unwound_url", "expanded_url", "url", nullptr};
    if (const json* v = field(o, "hashtags")) {
      for (auto& h : items(*v, kTagMembers, false)) {
        std::string l = to_lower(h[0] == '#' ? h.substr(1) : h);
        bool seen = false;
        for (const auto& x : t.hashtags) seen |= x == l;
        if (!l.empty() && !seen) t.hashtags.push_back(l);
      }
    } else {
      t.hashtags = extract_hashtags(t.text);
    }
    if (const json* v = field(o, "mentions")) {
      for (auto& m : items(*v, kUserMembers, false))
        t.mentions.push_back(to_lower(m[0] == '@' ? m.substr(1) : m));
    } else {
      t.mentions = extract_mentions(t.text);
    }
    if (const json* v = field(o, "urls")) {
      for (auto& u : items(*v, kUrlMembers, true))
        if (u.rfind("http", 0) == 0 || u.rfind("www.", 0) == 0) t.urls.push_back(u);
    } else {
      t.urls = extract_urls(t.text);
    }
    if (const json* v = field(o, "reply_to")) t.reply_to = scalar(*v);
    if (const json* v = field(o, "quoted")) t.quoted_id = scalar(*v);
    if (const json* v = field(o, "retweeted")) t.retweeted_id = scalar(*v);
    // snscrape: a nested retweetedTweet's own retweetedTweet (if any) is the root.
    if (opt.map.find("retweeted") == opt.map.end()) {
      const json* rt = lookup(o, "retweetedTweet");
      while (rt && rt->is_object()) {
        const json* inner = lookup(*rt, "retweetedTweet");
        if (!inner || !inner->is_object()) break;
        if (const json* id = lookup(*inner, "id")) t.retweeted_id = scalar(*id);
        rt = inner;
      }
    }
    // API v2 referenced_tweets.
    if (const json* refs = lookup(o, "referenced_tweets"); refs && refs->is_array()) {
      for (const auto& r : *refs) {
        if (!r.is_object()) continue;
        std::string type = r.value("type", std::string());
        std::string id = r.contains("id") ? scalar(r["id"]) : "";
        if (type == "retweeted" && t.retweeted_id.empty()) t.retweeted_id = id;
        if (type == "quoted" && t.quoted_id.empty()) t.quoted_id = id;
        if (type == "replied_to" && t.reply_to.empty()) t.reply_to = id;
      }
    }
    if (t.reply_to == "0") t.reply_to.clear();
    t.is_retweet = !t.retweeted_id.empty();
    if (!t.is_retweet) {
      if (const json* v = field(o, "retweet_flag")) t.is_retweet = truthy(*v);
    }
    if (!t.is_retweet && t.text.rfind("RT @", 0) == 0) t.is_retweet = true;
    if (const json* v = field(o, "likes")) t.likes = count_value(*v);
    if (const json* v = field(o, "retweets")) t.retweets = count_value(*v);
    if (const json* v = field(o, "replies")) t.replies = count_value(*v);
    if (const json* v = field(o, "quotes")) t.quotes = count_value(*v);
    if (const json* v = field(o, "account_created")) {
      int64_t c = parse_time(scalar(*v));
      if (c != kNoTime) t.account_created = c;
    }
    if (!opt.group_by.empty()) {
      const json* g = lookup(o, opt.group_by);
      if (g && g->is_array()) {
        for (const auto& e : *g)
          if (!scalar(e).empty()) t.groups.push_back(to_lower(scalar(e)));
      } else if (g && !scalar(*g).empty()) {
        t.groups.push_back(to_lower(scalar(*g)));
      }
    }
    return "";
  }
};

ArchiveReader::ArchiveReader(const std::string& path, const ArchiveOptions& opt)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = opt;
  infer::ReaderOptions ro;
  ro.encoding = opt.encoding;
  ro.invalid_utf8 = opt.replace_invalid_utf8 ? infer::InvalidUtf8::Replace : infer::InvalidUtf8::Error;
  ro.format = opt.format.empty() ? infer::InputFormat::Auto : infer::input_format_from_name(opt.format);
  impl_->reader = std::make_unique<infer::RecordReader>(path, ro);
}

ArchiveReader::~ArchiveReader() = default;

ArchiveReader::Result ArchiveReader::next(Tweet& t, BadRow& bad) {
  auto& im = *impl_;
  while (true) {
    if (!im.queue.empty()) {
      auto [obj, line] = std::move(im.queue.front());
      im.queue.pop_front();
      std::string why = im.convert(obj, t);
      t.line = line;
      if (why.empty()) return Result::Tweet;
      bad = {im.reader->name(), line, why};
      return Result::Bad;
    }
    if (!im.reader->next(im.rec)) return Result::End;
    im.fixed_columns =
        im.reader->format() == infer::InputFormat::Csv || im.reader->format() == infer::InputFormat::Tsv;
    const json& j = im.rec.json();
    if (!im.rec.error.empty()) {
      bad = {im.reader->name(), im.rec.line, im.rec.error};
      return Result::Bad;
    }
    im.includes = json();
    // API v2 response line: {"data": tweet | [tweets], "includes": {...}}.
    auto data = j.find("data");
    if (data != j.end() && (data->is_object() || data->is_array()) &&
        im.opt.map.find("text") == im.opt.map.end()) {
      if (auto inc = j.find("includes"); inc != j.end()) im.includes = *inc;
      if (data->is_object()) {
        im.queue.emplace_back(*data, im.rec.line);
      } else {
        for (const auto& d : *data) im.queue.emplace_back(d, im.rec.line);
        if (data->empty()) {
          bad = {im.reader->name(), im.rec.line, "empty \"data\" array"};
          return Result::Bad;
        }
      }
      continue;
    }
    std::string why = im.convert(j, t);
    t.line = im.rec.line;
    if (why.empty()) return Result::Tweet;
    bad = {im.reader->name(), im.rec.line, why};
    return Result::Bad;
  }
}

BadRowWriter::BadRowWriter(std::string path) : path_(std::move(path)) {}

BadRowWriter::~BadRowWriter() {
  if (f_ && f_ != stderr) std::fclose(f_);
}

void BadRowWriter::operator()(const BadRow& b) {
  if (!f_) {
    f_ = path_.empty() ? stderr : std::fopen(path_.c_str(), "wb");
    if (!f_) TERN_FAIL("cannot write the errors file " << path_);
  }
  std::string line = json{{"file", b.file}, {"line", b.line}, {"reason", b.reason}}.dump(
                         -1, ' ', false, json::error_handler_t::replace) +
                     "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    TERN_FAIL("write failed: " << (path_.empty() ? "<stderr>" : path_));
  ++count_;
}

int64_t read_archives(const std::vector<std::string>& paths, const ArchiveOptions& opt,
                      const std::function<void(const Tweet&)>& on_tweet,
                      const std::function<void(const BadRow&)>& on_bad) {
  int64_t nbad = 0;
  Tweet t;
  BadRow b;
  for (const auto& p : paths) {
    ArchiveReader r(p, opt);
    while (true) {
      auto res = r.next(t, b);
      if (res == ArchiveReader::Result::End) break;
      if (res == ArchiveReader::Result::Tweet) {
        on_tweet(t);
      } else {
        ++nbad;
        on_bad(b);
      }
    }
  }
  return nbad;
}

}  // namespace tern::social
