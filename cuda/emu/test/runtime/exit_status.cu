// dsv3-emu runtime test: the dsv3-emu command passes the program's arguments and exits with its status.
// run-runtime-tests.sh runs it as `exit_status 7 hello` and expects exit status 7.
#include <cstdlib>
#include <cstring>

#include "check.cuh"

int main(int argc, char** argv) {
  CHECK_EQ(argc, 3);
  CHECK(argc == 3 && std::strcmp(argv[2], "hello") == 0);
  int n = 0;
  CHECK_OK(cudaGetDeviceCount(&n));
  const int status = finish();
  return status ? status : (argc > 1 ? std::atoi(argv[1]) : 0);
}
