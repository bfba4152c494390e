// Reading memory-mapped files safely (issue 18): a file truncated or rewritten in place under its mapping
// makes reads of the lost pages raise SIGBUS, which used to kill the process. Code that reads mapped data
// runs inside guard_faults(): a SIGBUS there becomes an IoFault naming the file, thrown on that thread
// (sigsetjmp/siglongjmp; the guarded code's own locals are not destroyed on that path, so it must hold no
// locks). A SIGBUS anywhere else keeps its default action.
#pragma once
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

namespace dsv3 {

// A read of memory-mapped file data failed; the binding layer turns it into an IoError.
struct IoFault : std::runtime_error { using std::runtime_error::runtime_error; };

// Runs f; a SIGBUS on this thread while it runs throws IoFault (nested guards: the innermost catches).
void guard_faults(const std::function<void()>& f);

// The file mappings guard_faults can name, and the first fault each had ("" if none).
void register_mapping(const void* p, size_t bytes, const std::string& path);
void unregister_mapping(const void* p);
std::string mapping_fault(const void* p);

}  // namespace dsv3
