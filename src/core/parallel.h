// The threads one call may use for its own work (ModelOptions::threads): the
// OpenMP threads of the kernels' parallel loops, which take their count from
// the calling thread. Without OpenMP (MOEASR_WITH_OPENMP=OFF) everything runs
// on the calling thread and this does nothing.
#pragma once

#if MOEASR_HAVE_OPENMP
#include <omp.h>
#endif

namespace moeasr {

inline void set_intra_op_threads(int threads) {
#if MOEASR_HAVE_OPENMP
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
}

}  // namespace moeasr
