// mulberry32.mjs — the one seeded PRNG of the tools and benchmarks (the fake provider's text,
// bench/knowledge's sampling, bench/voice's splits, bench/web's events): the same seed gives the
// same draws anywhere.

/// mulberry32: a small seeded PRNG; the function it returns gives floats in [0, 1).
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
