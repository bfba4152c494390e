// checks_proxy_mbarrier_init_fenced.cu: checks_proxy_mbarrier_init.cu with fence.proxy.async.shared::cta
// after the mbarrier.init (in the initialising thread): no report, and the loaded box is checked.
// EXPECT-CLEAN
#define KT_PROXY_FENCE 1
#include "checks_proxy_mbarrier_init.cu"
