# tokenizer_bench: tern's tokenizers on the TweetEval sentiment test texts, single thread and all threads,
# with Hugging Face tokenizers (Rust, via Node: bench/hf_tokenizers_peer.js) measured in the same run.
# Included from bench/CMakeLists.txt.
add_executable(tokenizer_bench ${CMAKE_CURRENT_LIST_DIR}/tokenizer_bench.cpp)
target_link_libraries(tokenizer_bench PRIVATE tern_tokenizer ZLIB::ZLIB nlohmann_json::nlohmann_json)
target_compile_definitions(tokenizer_bench PRIVATE TERN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
