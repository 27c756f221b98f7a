/* The prober's default name, kept in its spool directory: read if there,
 * else made from the host name and a random id and written once (link(2) of
 * a finished temporary, so a half-written or raced file is never read). */
#include "name.h"

#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_ID_HEX 8

int prober_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= WIRE_NAME_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._:-") == n;
}

/* Read DIR/name: 1 and the name, 0 when absent, -1 with err. */
static int name_file_read(const char *path, char *name, size_t len, char *err,
			  size_t errlen)
{
	char buf[WIRE_NAME_MAX + 2];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!prober_name_valid(buf) || strlen(buf) >= len) {
		snprintf(err, errlen, "%s:1: not a prober name (1-63 of A-Z a-z 0-9 . _ : -); "
			 "fix or remove the file, or pass --name", path);
		return -1;
	}
	snprintf(name, len, "%s", buf);
	return 1;
}

int prober_name_default(const char *dir, char *name, size_t len, char *err,
			size_t errlen)
{
	char path[4096], tmp[4200], host[256] = "prober", made[WIRE_NAME_MAX + 1];
	unsigned char id[NAME_ID_HEX / 2];
	size_t hl;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, PROBER_NAME_FILE);
	if ((rc = name_file_read(path, name, len, err, errlen)) != 0)
		return rc < 0 ? -1 : 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		snprintf(host, sizeof(host), "prober");
	host[sizeof(host) - 1] = '\0';
	/* the wire's characters only, and room for "-" and the id */
	for (char *p = host; *p; p++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-", *p))
			*p = '-';
	hl = strlen(host);
	if (hl > WIRE_NAME_MAX - 2 - NAME_ID_HEX)
		hl = WIRE_NAME_MAX - 2 - NAME_ID_HEX;
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	snprintf(made, sizeof(made), "%.*s-%02x%02x%02x%02x", (int)hl, host, id[0], id[1],
		 id[2], id[3]);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	rc = dprintf(fd, "%s\n", made) < 0 || fsync(fd) < 0;
	if (close(fd) < 0 || rc) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* link, not rename: a prober that raced us to it keeps its name, and
	 * we take that one */
	rc = link(tmp, path);
	if (rc < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	unlink(tmp);
	if ((rc = name_file_read(path, name, len, err, errlen)) <= 0) {
		if (rc == 0)
			snprintf(err, errlen, "%s: vanished after writing", path);
		return -1;
	}
	return 0;
}
