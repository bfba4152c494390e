// dsv3-emu: the generic -> async proxy fence shadow (src/interp/proxycheck.h) on its own: a write is
// pending until its writer's fence, a fence by another thread does not help, a later write needs a later
// fence, an async-proxy write clears, bytes are tracked one by one, and reset() forgets the CTA before.
#include "src/interp/proxycheck.h"
#include "test/unit/check.h"

int main() {
  emu::ProxyCheck p;
  emu::ProxyCheck::Unfenced u{};
  p.reset(4096, 256);
  CHECK(p.check(0, 4096, &u));                 // nothing written
  p.write(5, 100, 4, 42);                      // thread 5 at pc 42
  CHECK(!p.check(0, 4096, &u));
  CHECK_EQ(u.thread, 5u);
  CHECK_EQ(u.pc, 42u);
  CHECK_EQ(u.addr, 100u);
  CHECK(p.check(0, 100, &u));                  // only its bytes
  CHECK(p.check(104, 100, &u));
  p.fence(6);                                  // another thread's fence
  CHECK(!p.check(102, 1, &u));
  p.fence(5);
  CHECK(p.check(0, 4096, &u));
  p.write(5, 101, 1, 43);                      // a write after the fence
  CHECK(!p.check(100, 4, &u));
  CHECK_EQ(u.addr, 101u);
  CHECK_EQ(u.pc, 43u);
  p.async_write(96, 16);                       // overwritten through the async proxy
  CHECK(p.check(0, 4096, &u));
  p.write(255, 1023, 2, 7);                    // across a shadow page boundary
  CHECK(!p.check(1024, 1, &u));
  CHECK_EQ(u.addr, 1024u);
  CHECK(!p.check(1023, 1, &u));
  p.fence(255);
  CHECK(p.check(1000, 100, &u));
  for (int i = 0; i < 3; ++i) p.fence(7);
  p.write(7, 4000, 8, 9);
  p.reset(4096, 256);                          // a new CTA: nothing pending, epochs from 0 again
  CHECK(p.check(0, 4096, &u));
  p.write(7, 4000, 8, 9);
  CHECK(!p.check(4000, 8, &u));
  CHECK(p.check(4096, 16, &u));                // outside the window: nothing (bounds are access()'s)
  return check::finish();
}
