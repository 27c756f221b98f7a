/* Capability drop with libcap: after this, a compromised prober can still
 * send raw packets but cannot change routes, read other users' files, load
 * modules or regain anything by exec. */
#include "caps.h"

#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

int caps_keep_net_raw(void)
{
	cap_value_t keep[] = { CAP_NET_RAW };
	cap_t caps = cap_init();
	int rc = -1;

	if (!caps)
		return -1;
	if (cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET) < 0)
		goto out;
	/* the bounding set needs CAP_SETPCAP, so shrink it before cap_set_proc */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		if (c == CAP_NET_RAW)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || cap_set_proc(caps) < 0)
		goto out;
	rc = 0;
out:
	{
		int e = errno;

		cap_free(caps);
		errno = e;
	}
	return rc;
}
