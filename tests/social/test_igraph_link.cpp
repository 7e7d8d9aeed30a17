// igraph as tern links it (social/CMakeLists.txt): its static archive, with ARPACK and libxml2 reached
// through the first-call trampolines of social/igraph_lazy_deps.S. These calls go through both libraries and
// check answers known by hand, so a trampoline that jumps to the wrong function, or a library that fails to
// load, fails here rather than in a user's `tern coordinate`.
#include <igraph.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

// Eigenvector centrality of a star (centre 0, four leaves): eigenvalue sqrt(4) = 2, centre 1, leaves 1/2
// (ARPACK's symmetric solver, dsaupd / dseupd).
TEST(IgraphLink, ArpackSymmetricEigenvectorCentralityOfAStar) {
  igraph_t g;
  ASSERT_EQ(igraph_star(&g, 5, IGRAPH_STAR_UNDIRECTED, 0), IGRAPH_SUCCESS);
  igraph_vector_t v;
  igraph_vector_init(&v, 0);
  igraph_real_t value = 0;
  igraph_arpack_options_t opt;
  igraph_arpack_options_init(&opt);
  ASSERT_EQ(igraph_eigenvector_centrality(&g, &v, &value, /*directed=*/false, /*scale=*/true, nullptr, &opt),
            IGRAPH_SUCCESS);
  EXPECT_NEAR(value, 2.0, 1e-9);
  ASSERT_EQ(igraph_vector_size(&v), 5);
  EXPECT_NEAR(VECTOR(v)[0], 1.0, 1e-9);
  for (int i = 1; i < 5; ++i) EXPECT_NEAR(VECTOR(v)[i], 0.5, 1e-9) << i;
  igraph_vector_destroy(&v);
  igraph_destroy(&g);
}

// A directed graph (ARPACK's non-symmetric solver, dnaupd / dneupd): 0 -> 1 -> 2 -> 0 and 0 -> 2. In-edges
// give x = A^T x / lambda: x0 = x2 / l, x1 = x0 / l, x2 = (x1 + x0) / l, so l^3 = l + 1 (the plastic number,
// 1.3247...), and the scaled vector is x2 = 1, x0 = 1 / l, x1 = 1 / l^2.
TEST(IgraphLink, ArpackNonSymmetricEigenvectorCentrality) {
  igraph_t g;
  igraph_vector_int_t e;
  igraph_vector_int_init_int(&e, 8, 0, 1, 1, 2, 2, 0, 0, 2);
  ASSERT_EQ(igraph_create(&g, &e, 3, IGRAPH_DIRECTED), IGRAPH_SUCCESS);
  igraph_vector_t v;
  igraph_vector_init(&v, 0);
  igraph_real_t value = 0;
  igraph_arpack_options_t opt;
  igraph_arpack_options_init(&opt);
  ASSERT_EQ(igraph_eigenvector_centrality(&g, &v, &value, /*directed=*/true, /*scale=*/true, nullptr, &opt),
            IGRAPH_SUCCESS);
  const double l = 1.324717957244746;  // real root of l^3 = l + 1
  EXPECT_NEAR(value, l, 1e-7);
  EXPECT_NEAR(VECTOR(v)[2], 1.0, 1e-7);
  EXPECT_NEAR(VECTOR(v)[0], 1.0 / l, 1e-7);
  EXPECT_NEAR(VECTOR(v)[1], 1.0 / (l * l), 1e-7);
  igraph_vector_destroy(&v);
  igraph_vector_int_destroy(&e);
  igraph_destroy(&g);
}

igraph_error_t read_graphml(const std::string& xml, igraph_t* g) {
  FILE* f = fmemopen(const_cast<char*>(xml.data()), xml.size(), "r");
  if (!f) return IGRAPH_FAILURE;
  const igraph_error_t r = igraph_read_graph_graphml(g, f, 0);
  std::fclose(f);
  return r;
}

// GraphML through libxml2: a good file reads; a broken one is an error (libxml2's error callbacks), not a
// crash.
TEST(IgraphLink, LibxmlGraphmlReadsAGraphAndRejectsBrokenXml) {
  const std::string good =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
      " <graph id=\"G\" edgedefault=\"undirected\">\n"
      "  <node id=\"a\"/><node id=\"b\"/><node id=\"c\"/>\n"
      "  <edge source=\"a\" target=\"b\"/><edge source=\"b\" target=\"c\"/>\n"
      " </graph>\n"
      "</graphml>\n";
  igraph_t g;
  ASSERT_EQ(read_graphml(good, &g), IGRAPH_SUCCESS);
  EXPECT_EQ(igraph_vcount(&g), 3);
  EXPECT_EQ(igraph_ecount(&g), 2);
  EXPECT_FALSE(igraph_is_directed(&g));
  igraph_destroy(&g);

  const igraph_error_handler_t* prev = igraph_set_error_handler(igraph_error_handler_ignore);
  const igraph_warning_handler_t* prev_w = igraph_set_warning_handler(igraph_warning_handler_ignore);
  const std::string broken = good.substr(0, good.size() / 2) + "<node id=";
  igraph_t h;
  EXPECT_NE(read_graphml(broken, &h), IGRAPH_SUCCESS);
  igraph_set_warning_handler(prev_w);
  igraph_set_error_handler(prev);
}

}  // namespace
