// checks_proxy_wgmma_fenced.cu: checks_proxy_wgmma.cu with fence.proxy.async.shared::cta in every writing
// thread between its shared-memory stores and the wgmma: no report, and the product is checked.
// EXPECT-CLEAN
#define KT_PROXY_FENCE 1
#include "checks_proxy_wgmma.cu"
