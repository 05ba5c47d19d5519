/* rng.h — the deterministic RNG of wmsim (xoshiro256**, seeded by splitmix64).
 * Never rand(): every random draw comes from a wm_rng owned by its user, so a
 * seed reproduces an episode byte for byte on any thread or rank count. */
#ifndef WMSIM_RNG_H
#define WMSIM_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} wm_rng;

void rng_init(wm_rng *rng, uint64_t seed);
/* A child stream: independent of the parent's later draws; used to give each
 * actor or episode its own stream from one seed. */
wm_rng rng_fork(uint64_t seed, uint64_t stream);
uint64_t rng_u64(wm_rng *rng);
double rng_uniform(wm_rng *rng);                      /* [0, 1) */
double rng_range(wm_rng *rng, double lo, double hi);  /* [lo, hi) */
double rng_normal(wm_rng *rng);                       /* mean 0, sd 1 */

#endif
