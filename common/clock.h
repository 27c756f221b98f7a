/* The one home of reading the clocks: CLOCK_MONOTONIC for intervals and
 * deadlines, CLOCK_REALTIME for timestamps that leave the process, the
 * process CPU clock for cost figures; in ns and in whole ms. */
#ifndef FM_CLOCK_H
#define FM_CLOCK_H

#include <stdint.h>

/* Monotonic time (unaffected by clock steps), ns / whole ms. */
uint64_t clock_mono_ns(void);
int64_t clock_mono_ms(void);
/* Wall-clock time since the Unix epoch, ns / whole ms. */
uint64_t clock_real_ns(void);
int64_t clock_real_ms(void);
/* CPU time this process has used, ns. */
uint64_t clock_cpu_ns(void);

#endif
