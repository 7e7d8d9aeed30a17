// The report page. Charts are inline SVG drawn by the inline script below from the embedded JSON; nothing
// is fetched. After drawing, the script checks that every chart holds non-empty SVG and writes the outcome
// into #status (data-status="ok" | "error"), which the Chromium test reads back.
#include "social/report_page.h"

namespace tern::social {

const char* const kReportHead = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>tern report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:12px 16px 40px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:26px 0 8px}
.sub{color:#5b6570;font-size:13px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:10px 14px;margin:14px 0}
.chart svg{width:100%;height:auto;display:block}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th,td{padding:3px 6px;border-bottom:1px solid #eceff2;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td.txt{text-align:left;white-space:normal;max-width:520px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:4px}
.legend span::before{content:"";display:inline-block;width:10px;height:10px;margin-right:4px;background:var(--c);border-radius:2px}
.note{color:#5b6570;font-style:italic}
#graphwrap{position:relative}
#tip{position:absolute;pointer-events:none;background:#fff;border:1px solid #9aa5b1;border-radius:6px;padding:6px 8px;font-size:12px;max-width:320px;box-shadow:0 2px 8px rgba(0,0,0,.15);display:none;z-index:2}
.btns button{font-size:13px;margin-right:4px}
#status{font-size:11px;color:#8a949e}
@media (max-width:600px){body{font-size:13px}main{padding:8px}section{padding:8px}h1{font-size:18px}}
</style>
<script>
// First script on the page: records page errors, failed / blocked requests and console errors for #status.
(function () {
  var problems = window.ternProblems = [];
  window.addEventListener("error", function (e) {
    var t = e.target && e.target !== window ? "failed to load " + (e.target.src || e.target.href || e.target.tagName) : (e.message || "error");
    problems.push(t);
  }, true);
  document.addEventListener("securitypolicyviolation", function (e) { problems.push("blocked request: " + e.blockedURI); });
  window.addEventListener("unhandledrejection", function (e) { problems.push("unhandled rejection: " + e.reason); });
  var origError = console.error;
  console.error = function () { problems.push("console.error: " + Array.prototype.join.call(arguments, " ")); origError.apply(console, arguments); };
})();
</script></head><body><main>
<h1 id="title"></h1><div class="sub" id="subtitle"></div>
<section><h2>Volume per trend</h2><div class="chart" id="c-volume"></div><div class="legend" id="l-volume"></div></section>
<section><h2>Trend metrics</h2><div class="tablewrap" id="t-metrics"></div></section>
<section><h2>Top accounts</h2><div class="chart" id="c-accounts"></div><div class="sub">bars: tweets in the archive; red: in a coordinated component</div></section>
<section><h2>Duplicate clusters</h2><div class="tablewrap" id="t-dups"></div></section>
<section><h2>Labels over time</h2><div id="labels"></div></section>
<section><h2>Coordination graph</h2>
<div class="btns"><button id="zin" type="button">+</button><button id="zout" type="button">&minus;</button><button id="zreset" type="button">reset</button>
<span class="sub">scroll / pinch to zoom, drag to pan, hover or tap an account</span></div>
<div id="graphwrap"><div class="chart" id="c-graph"></div><div id="tip"></div></div>
<div class="tablewrap" id="t-components"></div></section>
<div id="status" data-status="pending">pending</div>
</main>
<script type="application/json" id="data">)HTML";

const char* const kReportTail = R"HTML(</script>
<script>
(function () {
  "use strict";
  var problems = window.ternProblems;

  var NS = "http://www.w3.org/2000/svg";
  var PAL = ["#1f77b4","#d62728","#2ca02c","#ff7f0e","#9467bd","#8c564b","#e377c2","#17becf","#bcbd22","#7f7f7f"];
  function $(id) { return document.getElementById(id); }
  function s(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function h(tag, text, parent, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(v, d) { if (v === null || v === undefined) return "\u2013"; return typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en") : v.toFixed(d === undefined ? 2 : d)) : String(v); }
  function tlabel(t, span) {
    var d = new Date(t * 1000), iso = d.toISOString();
    return span > 3 * 86400 ? iso.slice(0, 10) : iso.slice(5, 10) + " " + iso.slice(11, 16);
  }
  // Drawing width in SVG units = the container's CSS width (360..800), so text stays legible on a phone.
  function width(el) { return Math.max(360, Math.min(800, Math.round(el.clientWidth || 800))); }
  function legend(el, names) {
    names.forEach(function (n, i) { var sp = h("span", n, el); sp.style.setProperty("--c", PAL[i % PAL.length]); });
  }

  function lineChart(el, series, opt) {
    opt = opt || {};
    var W = width(el), H = opt.height || 280, m = {l: 48, r: 12, t: 10, b: 28};
    var t0 = Infinity, t1 = -Infinity, ymax = opt.ymax || 0;
    series.forEach(function (sr) { sr.points.forEach(function (p) { t0 = Math.min(t0, p[0]); t1 = Math.max(t1, p[0]); if (!opt.ymax) ymax = Math.max(ymax, p[1]); }); });
    if (!isFinite(t0)) { h("p", "no data", el, "note"); return; }
    if (t1 === t0) t1 = t0 + 1;
    if (ymax <= 0) ymax = 1;
    var svg = s("svg", {viewBox: "0 0 " + W + " " + H, role: "img"}, el);
    var x = function (t) { return m.l + (t - t0) / (t1 - t0) * (W - m.l - m.r); };
    var y = function (v) { return H - m.b - v / ymax * (H - m.t - m.b); };
    for (var i = 0; i <= 4; i++) {
      var v = ymax * i / 4, yy = y(v);
      s("line", {x1: m.l, x2: W - m.r, y1: yy, y2: yy, stroke: "#e6e9ed"}, svg);
      var tx = s("text", {x: m.l - 6, y: yy + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6570"}, svg);
      tx.textContent = opt.pct ? Math.round(v * 100) + "%" : (v >= 10 ? Math.round(v) : v.toFixed(1));
    }
    for (var j = 0; j <= 5; j++) {
      var t = t0 + (t1 - t0) * j / 5;
      if (W < 600 && j % 2 === 1) continue;
      var lx = s("text", {x: x(t), y: H - 8, "text-anchor": j === 0 ? "start" : j === 5 ? "end" : "middle", "font-size": 11, fill: "#5b6570"}, svg);
      lx.textContent = tlabel(t, t1 - t0);
    }
    series.forEach(function (sr, k) {
      var col = PAL[k % PAL.length];
      var d = sr.points.map(function (p, i) { return (i ? "L" : "M") + x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1); }).join("");
      s("path", {d: d, fill: "none", stroke: col, "stroke-width": 1.8}, svg);
      if (sr.points.length <= 200) sr.points.forEach(function (p) {
        var c = s("circle", {cx: x(p[0]), cy: y(p[1]), r: 2.6, fill: col}, svg);
        s("title", {}, c).textContent = sr.name + " \u00b7 " + tlabel(p[0], 0) + " \u00b7 " + (opt.pct ? (p[1] * 100).toFixed(1) + "%" : p[1]);
      });
    });
  }

  function barChart(el, items) {
    if (!items.length) { h("p", "no data", el, "note"); return; }
    var W = width(el), bh = 20, lw = Math.round(W * 0.3), H = items.length * bh + 8;
    var max = Math.max.apply(null, items.map(function (d) { return d.value; })) || 1;
    var svg = s("svg", {viewBox: "0 0 " + W + " " + H, role: "img"}, el);
    items.forEach(function (d, i) {
      var yy = 4 + i * bh, w = Math.max(1, d.value / max * (W - lw - 60));
      var lab = s("text", {x: lw - 6, y: yy + 14, "text-anchor": "end", "font-size": 12, fill: "#1d232a"}, svg);
      var maxc = Math.max(8, Math.floor(lw / 7));
      lab.textContent = d.label.length > maxc ? d.label.slice(0, maxc - 1) + "\u2026" : d.label;
      var r = s("rect", {x: lw, y: yy + 2, width: w, height: bh - 5, fill: d.color || PAL[0], rx: 2}, svg);
      s("title", {}, r).textContent = d.label + ": " + d.value;
      var v = s("text", {x: lw + w + 4, y: yy + 14, "font-size": 11, fill: "#5b6570"}, svg);
      v.textContent = fmt(d.value);
    });
  }

  function table(el, cols, rows) {
    if (!rows.length) { h("p", "none", el, "note"); return; }
    var t = h("table", null, el), tr = h("tr", null, h("thead", null, t));
    cols.forEach(function (c) { h("th", c[0], tr); });
    var tb = h("tbody", null, t);
    rows.forEach(function (r) { var row = h("tr", null, tb); cols.forEach(function (c) { var td = h("td", c[1](r), row); if (c[2]) td.className = c[2]; }); });
  }

  function graph(el, G) {
    if (!G.nodes.length) { h("p", "no coordinated accounts at these settings", el, "note"); return; }
    var W = width(el), H = Math.round(W * 0.7), pad = 20;
    var xs = G.nodes.map(function (n) { return n.x; }), ys = G.nodes.map(function (n) { return n.y; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var sc = Math.min((W - 2 * pad) / ((x1 - x0) || 1), (H - 2 * pad) / ((y1 - y0) || 1));
    var px = function (n) { return pad + (n.x - x0) * sc + ((W - 2 * pad) - (x1 - x0) * sc) / 2; };
    var py = function (n) { return pad + (n.y - y0) * sc + ((H - 2 * pad) - (y1 - y0) * sc) / 2; };
    var svg = s("svg", {viewBox: "0 0 " + W + " " + H, role: "img", style: "touch-action:none;border:1px solid #eceff2;border-radius:6px;cursor:grab"}, el);
    var g = s("g", {}, svg);
    var maxw = Math.max.apply(null, G.edges.map(function (e) { return e[2]; })) || 1;
    G.edges.forEach(function (e) {
      var a = G.nodes[e[0]], b = G.nodes[e[1]];
      var ln = s("line", {x1: px(a), y1: py(a), x2: px(b), y2: py(b), stroke: "#8a949e", "stroke-opacity": 0.5, "stroke-width": (0.6 + 2.4 * Math.sqrt(e[2] / maxw)).toFixed(2), "vector-effect": "non-scaling-stroke"}, g);
      s("title", {}, ln).textContent = a.name + " \u2013 " + b.name + ": " + e[3];
    });
    var maxs = Math.max.apply(null, G.nodes.map(function (n) { return n.strength; })) || 1;
    var tip = $("tip");
    function show(n, ev) {
      tip.innerHTML = "";
      h("b", n.name, tip);
      h("div", "component " + n.component + " \u00b7 cluster " + n.cluster + " \u00b7 weight " + fmt(n.strength) + " \u00b7 " + n.tweets + " tweets", tip);
      var ul = h("ul", null, tip); ul.style.margin = "4px 0 0"; ul.style.paddingLeft = "16px";
      n.examples.forEach(function (x) { h("li", x.length > 160 ? x.slice(0, 159) + "\u2026" : x, ul); });
      var r = $("graphwrap").getBoundingClientRect();
      tip.style.display = "block";
      tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - 330) + "px";
      tip.style.top = (ev.clientY - r.top + 12) + "px";
    }
    G.nodes.forEach(function (n) {
      var c = s("circle", {cx: px(n), cy: py(n), r: (3 + 7 * Math.sqrt(n.strength / maxs)).toFixed(2), fill: PAL[n.component % PAL.length], stroke: "#fff", "stroke-width": 0.8, "vector-effect": "non-scaling-stroke"}, g);
      c.addEventListener("mouseenter", function (ev) { show(n, ev); });
      c.addEventListener("click", function (ev) { show(n, ev); ev.stopPropagation(); });
      c.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    });
    svg.addEventListener("click", function () { tip.style.display = "none"; });
    var view = {k: 1, x: 0, y: 0};
    function apply() { g.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")"); }
    function zoomAt(f, cx, cy) { var k = Math.max(0.3, Math.min(40, view.k * f)); f = k / view.k; view.x = cx - (cx - view.x) * f; view.y = cy - (cy - view.y) * f; view.k = k; apply(); }
    function toSvg(ev) { var r = svg.getBoundingClientRect(); return [(ev.clientX - r.left) * W / r.width, (ev.clientY - r.top) * H / r.height]; }
    svg.addEventListener("wheel", function (ev) { ev.preventDefault(); var p = toSvg(ev); zoomAt(ev.deltaY < 0 ? 1.2 : 1 / 1.2, p[0], p[1]); }, {passive: false});
    var drag = null, pointers = {}, pinch = null;
    svg.addEventListener("pointerdown", function (ev) { pointers[ev.pointerId] = toSvg(ev); drag = {p: toSvg(ev), x: view.x, y: view.y}; });
    svg.addEventListener("pointermove", function (ev) {
      if (!(ev.pointerId in pointers)) return;
      pointers[ev.pointerId] = toSvg(ev);
      var ids = Object.keys(pointers);
      if (ids.length === 2) {
        var a = pointers[ids[0]], b = pointers[ids[1]], d = Math.hypot(a[0] - b[0], a[1] - b[1]);
        if (pinch) zoomAt(d / pinch, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
        pinch = d; return;
      }
      if (drag) { var p = toSvg(ev); view.x = drag.x + p[0] - drag.p[0]; view.y = drag.y + p[1] - drag.p[1]; apply(); }
    });
    function up(ev) { delete pointers[ev.pointerId]; drag = null; pinch = null; }
    svg.addEventListener("pointerup", up); svg.addEventListener("pointercancel", up); svg.addEventListener("pointerleave", up);
    $("zin").onclick = function () { zoomAt(1.4, W / 2, H / 2); };
    $("zout").onclick = function () { zoomAt(1 / 1.4, W / 2, H / 2); };
    $("zreset").onclick = function () { view = {k: 1, x: 0, y: 0}; apply(); };
  }

  function render(D) {
    $("title").textContent = D.title;
    document.title = D.title;
    $("subtitle").textContent = fmt(D.tweets) + " tweets \u00b7 " + fmt(D.trend_count) + " trends \u00b7 " + fmt(D.accounts) + " accounts \u00b7 bucket " + D.bucket_seconds / 60 + " min \u00b7 coordination window " + D.window_seconds + " s, min weight " + D.min_weight;
    var top = D.trends.slice(0, D.top_trends);
    lineChart($("c-volume"), top.map(function (t) { return {name: "#" + t.trend, points: t.volume}; }));
    legend($("l-volume"), top.map(function (t) { return "#" + t.trend; }));
    table($("t-metrics"), [
      ["trend", function (r) { return "#" + r.trend; }], ["tweets", function (r) { return fmt(r.tweets); }],
      ["users", function (r) { return fmt(r.distinct_users); }], ["tweets/user", function (r) { return fmt(r.tweets_per_user); }],
      ["% dup", function (r) { return fmt(r.pct_duplicates, 1); }], ["% RT>like", function (r) { return fmt(r.pct_more_retweets_than_likes, 1); }],
      ["likes", function (r) { return fmt(r.likes); }], ["retweets", function (r) { return fmt(r.retweets); }],
      ["RT/user", function (r) { return fmt(r.retweets_per_user); }], ["gap min", function (r) { return fmt(r.mean_gap_minutes, 1); }],
      ["top duplicate posters", function (r) { return r.top_duplicate_posters.slice(0, 3).map(function (d) { return d.user + " (" + d.duplicates + ")"; }).join(", "); }, "txt"]
    ], D.trends);
    barChart($("c-accounts"), D.top_accounts.map(function (a) { return {label: a.name, value: a.tweets, color: a.coordinated ? "#d62728" : "#1f77b4"}; }));
    table($("t-dups"), [["text (normalised)", function (r) { return r.text; }, "txt"], ["tweets", function (r) { return fmt(r.tweets); }], ["accounts", function (r) { return r.accounts_capped ? r.accounts + "+" : fmt(r.accounts); }]], D.duplicates);
    var L = $("labels");
    if (!D.labels) {
      h("p", "no predictions given (tern report --infer PREDICTIONS.jsonl)", L, "note");
    } else {
      h("div", "share of each predicted label per bucket; " + fmt(D.labels.joined) + " tweets joined", L, "sub");
      D.labels.trends.forEach(function (t) {
        h("h3", "#" + t.trend, L).style.fontSize = "14px";
        var div = h("div", null, L, "chart");
        lineChart(div, D.labels.names.map(function (name, k) {
          return {name: name, points: t.buckets.map(function (b) { var tot = b[1].reduce(function (a, c) { return a + c; }, 0); return [b[0], tot ? b[1][k] / tot : 0]; })};
        }), {height: 200, ymax: 1, pct: true});
      });
      legend(h("div", null, L, "legend"), D.labels.names);
    }
    graph($("c-graph"), D.graph);
    table($("t-components"), [["#", function (r) { return r.id; }], ["accounts", function (r) { return r.size; }], ["types", function (r) { return r.types; }, "txt"],
      ["top accounts", function (r) { return r.top.join(", "); }, "txt"], ["example", function (r) { return r.example; }, "txt"]], D.components);
  }

  function verify() {
    var charts = document.querySelectorAll(".chart"), ok = 0, bad = [];
    charts.forEach(function (c) {
      var svg = c.querySelector("svg"), note = c.querySelector(".note");
      if (note && !svg) { ok++; return; }  // an honest "no data" note
      var r = svg ? svg.getBoundingClientRect() : null;
      var shapes = svg ? svg.querySelectorAll("path,circle,rect,line").length : 0;
      if (!svg || !r || r.width < 10 || r.height < 10 || shapes === 0) bad.push(c.id || "chart"); else ok++;
    });
    return {charts: charts.length, drawn: ok, bad: bad};
  }

  var st = $("status");
  try {
    render(JSON.parse($("data").textContent));
  } catch (e) {
    problems.push("render: " + (e && e.stack || e));
  }
  function finish() {
    var v = verify();
    if (v.bad.length) problems.push("empty charts: " + v.bad.join(","));
    st.setAttribute("data-status", problems.length ? "error" : "ok");
    st.setAttribute("data-charts", v.charts);
    st.textContent = problems.length ? "error: " + problems.join(" | ") : "ok: " + v.drawn + " of " + v.charts + " charts drawn";
  }
  if (document.readyState === "complete") finish(); else window.addEventListener("load", finish);
})();
</script>
</body></html>
)HTML";

}  // namespace tern::social
