// The one thread-count knob: bounds tern's OpenMP loops and the BLAS libraries' threads.
#pragma once

namespace tern {

// n = 0: all cores. Also sets OpenBLAS' and oneDNN's thread counts.
void set_num_threads(int n);
int num_threads();
int num_cores();

}  // namespace tern
