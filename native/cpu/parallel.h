// The CPU backend's thread pool. parallel_for splits [0, n) into chunks run on every core (the
// calling thread included). DSV3_NUM_THREADS overrides the thread count (default: all cores).
#pragma once
#include <cstdint>
#include <functional>

namespace dsv3::cpu {

int num_threads();
// fn(begin, end) is called on disjoint ranges covering [0, n); grain is the minimum chunk size.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace dsv3::cpu
