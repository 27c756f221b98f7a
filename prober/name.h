/* The prober's default name: the host name plus an id kept in the spool
 * directory, so probers on hosts sharing a host name (or a fresh install
 * copied from an image) never share a name, and batch numbering with it. */
#ifndef FM_PROBER_NAME_H
#define FM_PROBER_NAME_H

#include <stddef.h>

#define PROBER_NAME_FILE "name" /* in the spool directory */

/* The name in DIR/name, written on first use as "HOSTNAME-XXXXXXXX" (host
 * name cut and cleaned to the wire's name characters, 8 random hex digits).
 * DIR is created (0700) if missing. Returns 0 with the name in name (len at
 * least WIRE_NAME_MAX), or -1 with the reason, naming the file, in err. */
int prober_name_default(const char *dir, char *name, size_t len, char *err,
			size_t errlen);

/* Whether s is a valid prober name on the wire (1-63 of [A-Za-z0-9._:-]). */
int prober_name_valid(const char *s);

#endif
