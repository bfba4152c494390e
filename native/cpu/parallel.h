// The CPU backend's thread pool. parallel_for splits [0, n) into chunks run on every core (the
// calling thread included). DSV3_NUM_THREADS overrides the thread count (default: all cores), up to
// kMaxThreadsPerCore per core; if the system refuses threads (a process limit), the pool runs with those
// it could start.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace dsv3::cpu {

constexpr int kMaxThreadsPerCore = 4;
int num_threads();
// DSV3_NUM_THREADS as given (0 when unset or not a positive integer), and why fewer threads run ("" if none).
int requested_threads();
std::string thread_start_error();
// Whether idle workers spin briefly for the next job (set by the CPU stream while more work is queued or a
// graph replays) or sleep at once (default).
void set_pool_spinning(bool on);
// fn(begin, end) is called on disjoint ranges covering [0, n); grain is the minimum chunk size.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace dsv3::cpu
