/* clock.h — wall-clock seconds for rates, ETAs and timeouts: a monotonic
 * clock, so a change of the system time never makes an interval negative.
 * Never feeds results, which stay deterministic. */
#ifndef WMSIM_CLOCK_H
#define WMSIM_CLOCK_H

double clock_now_s(void);

#endif
