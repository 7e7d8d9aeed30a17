# Training-step benchmark (include()d from bench/CMakeLists.txt). Run from the repository root:
#   build/bench/train_bench --threads 2 [--peer]   (--peer runs bench/train_peer.py, PyTorch)
add_executable(train_bench ${CMAKE_CURRENT_LIST_DIR}/train_bench.cpp)
target_link_libraries(train_bench PRIVATE tern_train tern_nn tern_weights tern_tensor)
