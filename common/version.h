/* The faultmesh release and the format versions every program agrees on.
 * Format versions are bumped only with a matching change in schemas/. */
#ifndef FM_VERSION_H
#define FM_VERSION_H

#define FM_VERSION "0.1.0"

#endif
