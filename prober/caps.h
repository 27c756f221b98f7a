/* Least privilege: once every raw socket is open, keep only CAP_NET_RAW. */
#ifndef FM_CAPS_H
#define FM_CAPS_H

/* Reduce the effective, permitted and inheritable sets to CAP_NET_RAW (kept
 * so a raw socket can be reopened), drop the rest of the bounding set and
 * set no_new_privs. 0, or -1 with errno. */
int caps_keep_net_raw(void);

#endif
